-- Planning changes made by the permissive planning tools (reroute, asset swap, reschedule).

-- Every change of a shipment's plan: what it was, what it became, who asked and why.
CREATE TABLE plan_changes (
    change_id    VARCHAR PRIMARY KEY,
    shipment_id  VARCHAR NOT NULL,
    tool         VARCHAR NOT NULL,      -- reroute_shipment | swap_asset | reschedule_delivery
    before_state JSON NOT NULL,
    after_state  JSON NOT NULL,
    reason       VARCHAR,
    requested_by VARCHAR,               -- free text (e.g. a customer's name): untrusted data
    actor        VARCHAR NOT NULL,
    exception_id VARCHAR,
    created_at   TIMESTAMP NOT NULL
);

-- A planned move of a shipment's load from one asset to another (swap_asset). The custody
-- event is captured when the handoff happens (record_handoff); until then it is a plan.
CREATE TABLE handoff_plans (
    handoff_id          VARCHAR PRIMARY KEY,
    shipment_id         VARCHAR NOT NULL,
    from_asset_id       VARCHAR,
    to_asset_id         VARCHAR NOT NULL,
    meeting_location_id VARCHAR NOT NULL,
    planned_at          TIMESTAMP NOT NULL, -- when the new asset arrives at the meeting point
    containers          VARCHAR[] NOT NULL, -- SSCCs (top-level containers) to move
    route_id            VARCHAR,            -- the new asset's route for the shipment
    status              VARCHAR NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'done', 'cancelled')),
    reason              VARCHAR,
    exception_id        VARCHAR,
    created_at          TIMESTAMP NOT NULL
);

-- Restrictive actions and recalls (tools/actions.py, tools/recall.py).
-- Same conventions as 001_core.sql: naive UTC timestamps, GS1 keys as canonical strings.

-- Why a shipment was stopped: one row per hold, newest last. The shipment's status says whether
-- it is still held; these rows say who held it, when, from what and for which reason.
CREATE TABLE shipment_holds (
    hold_id         VARCHAR PRIMARY KEY,
    shipment_id     VARCHAR NOT NULL,
    source          VARCHAR NOT NULL CHECK (source IN ('hold_shipment', 'quarantine', 'investigation', 'recall')),
    ref_id          VARCHAR,            -- investigation_id or recall_id when the hold came from one
    reason          VARCHAR NOT NULL,
    previous_status VARCHAR NOT NULL,   -- the shipment's status before the hold
    held_at         TIMESTAMP NOT NULL,
    held_by         VARCHAR NOT NULL,
    exception_id    VARCHAR
);

-- Each quarantine action: its scope as asked, and how many units it stopped.
CREATE TABLE quarantines (
    quarantine_id     VARCHAR PRIMARY KEY,
    source            VARCHAR NOT NULL CHECK (source IN ('quarantine_units', 'recall')),
    ref_id            VARCHAR,
    reason            VARCHAR NOT NULL,
    scope             JSON NOT NULL,    -- unit keys, container ids, shipment id, or gtin + lot
    units_quarantined INTEGER NOT NULL,
    non_distributable BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        TIMESTAMP NOT NULL,
    created_by        VARCHAR NOT NULL,
    exception_id      VARCHAR
);

-- Suspect / illegitimate product investigations (DSCSA) with the FDA Form 3911 draft.
CREATE TABLE investigations (
    investigation_id VARCHAR PRIMARY KEY,
    subject          VARCHAR NOT NULL,  -- unit key, container id or shipment id
    shipment_id      VARCHAR,
    kind             VARCHAR NOT NULL CHECK (kind IN ('suspect', 'illegitimate')),
    classification   VARCHAR,           -- counterfeit, diverted, stolen, intentional_adulteration, ...
    evidence         JSON NOT NULL,
    unit_keys        VARCHAR[] NOT NULL DEFAULT [],
    status           VARCHAR NOT NULL DEFAULT 'open'
                         CHECK (status IN ('open', 'cleared', 'confirmed_illegitimate', 'closed')),
    detected_at      TIMESTAMP NOT NULL,
    opened_at        TIMESTAMP NOT NULL,
    opened_by        VARCHAR NOT NULL,
    exception_id     VARCHAR,
    fda3911_required BOOLEAN NOT NULL,  -- illegitimate product: notify FDA and partners in 24 h
    fda3911_due_at   TIMESTAMP,         -- detected_at + 24 hours when required
    fda3911_status   VARCHAR NOT NULL DEFAULT 'draft' CHECK (fda3911_status IN ('draft', 'submitted')),
    fda3911_draft    JSON NOT NULL
);

-- Hand-offs to a person, with the evidence they need.
CREATE TABLE escalations (
    escalation_id VARCHAR PRIMARY KEY,
    subject       VARCHAR NOT NULL,
    to_team       VARCHAR NOT NULL,
    severity      VARCHAR NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    summary       VARCHAR NOT NULL,
    evidence      JSON NOT NULL,
    exception_id  VARCHAR,
    status        VARCHAR NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'closed')),
    created_at    TIMESTAMP NOT NULL,
    created_by    VARCHAR NOT NULL
);

-- Lot recalls initiated in Proofline: one per GTIN + lot.
CREATE TABLE recalls (
    recall_id    VARCHAR PRIMARY KEY,
    gtin         VARCHAR NOT NULL,
    lot          VARCHAR NOT NULL,
    recall_class VARCHAR NOT NULL CHECK (recall_class IN ('I', 'II', 'III')),
    reason       VARCHAR NOT NULL,
    initiated_at TIMESTAMP NOT NULL,
    initiated_by VARCHAR NOT NULL,
    exception_id VARCHAR,
    counts       JSON NOT NULL,
    UNIQUE (gtin, lot)
);

-- Customer notices drafted by a tool and waiting for a person's approval; never sent from here.
CREATE TABLE notice_drafts (
    notice_id    VARCHAR PRIMARY KEY,
    kind         VARCHAR NOT NULL CHECK (kind IN ('recall_notice')),
    ref_id       VARCHAR NOT NULL,      -- recall_id
    contact_id   VARCHAR NOT NULL,
    channel      VARCHAR NOT NULL,
    address      VARCHAR NOT NULL,
    location_id  VARCHAR,
    partner_gln  VARCHAR,
    shipment_ids VARCHAR[] NOT NULL DEFAULT [],
    body         VARCHAR NOT NULL,
    status       VARCHAR NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved', 'sent', 'discarded')),
    created_at   TIMESTAMP NOT NULL,
    decided_by   VARCHAR,
    decided_at   TIMESTAMP
);

-- Proofline operational record, version 1.
-- Conventions: every timestamp is UTC without zone (TIMESTAMP); GTINs are 14 digits; a serialized
-- unit or case is keyed "gtin14.serial"; an SSCC is its 18 digits; a location is its GLN
-- (or "gln.extension"). JSON columns hold evidence and documents as captured.

CREATE TABLE meta (
    key   VARCHAR PRIMARY KEY,          -- e.g. 'network_now', 'synth_seed', 'synth_scale'
    value VARCHAR NOT NULL
);

CREATE TABLE partners (
    gln  VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    role VARCHAR NOT NULL CHECK (role IN ('manufacturer', 'wholesaler', '3pl', 'dispenser', 'hospital', 'carrier'))
);

CREATE TABLE locations (
    location_id   VARCHAR PRIMARY KEY,  -- GLN, or "gln.extension"
    gln           VARCHAR NOT NULL,
    partner_gln   VARCHAR,
    name          VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL CHECK (kind IN ('plant', 'dc', 'cross_dock', 'pharmacy', 'hospital', 'patient_home', 'other')),
    lat           DOUBLE,
    lon           DOUBLE,
    cold_classes  VARCHAR[] NOT NULL DEFAULT [],  -- temperature classes it can store: crt, refrigerated, frozen
    opens_at      TIME,                 -- receiving hours, local = UTC in this record
    closes_at     TIME,
    open_days     INTEGER[] NOT NULL DEFAULT [0, 1, 2, 3, 4],  -- ISO weekday - 1 (0 = Monday)
    daily_capacity INTEGER NOT NULL DEFAULT 50  -- deliveries it can receive per day
);

CREATE TABLE lanes (
    from_id VARCHAR NOT NULL,
    to_id   VARCHAR NOT NULL,
    km      DOUBLE NOT NULL,
    minutes INTEGER NOT NULL,
    PRIMARY KEY (from_id, to_id)
);

CREATE TABLE products (
    gtin                 VARCHAR PRIMARY KEY,
    ndc                  VARCHAR,       -- 10 digits, no hyphens
    name                 VARCHAR NOT NULL,
    manufacturer_gln     VARCHAR,
    company_prefix_len   INTEGER,       -- for EPC URN encoding, when known
    temp_class           VARCHAR NOT NULL DEFAULT 'crt' CHECK (temp_class IN ('crt', 'refrigerated', 'frozen')),
    temp_min_c           DOUBLE NOT NULL DEFAULT 20,
    temp_max_c           DOUBLE NOT NULL DEFAULT 25,
    stability_budget_min INTEGER NOT NULL DEFAULT 0,   -- allowable minutes out of range, whole distribution
    min_shelf_life_days  INTEGER NOT NULL DEFAULT 0,   -- minimum remaining shelf life at delivery
    dosage_form          VARCHAR,
    strength             VARCHAR
);

CREATE TABLE lots (
    gtin   VARCHAR NOT NULL,
    lot    VARCHAR NOT NULL,
    expiry DATE,
    status VARCHAR NOT NULL DEFAULT 'released' CHECK (status IN ('released', 'recalled', 'quarantined')),
    PRIMARY KEY (gtin, lot)
);

-- The manufacturer's commissioning record of every serialized unit (and case).
CREATE TABLE units (
    gtin            VARCHAR NOT NULL,
    serial          VARCHAR NOT NULL,
    lot             VARCHAR,
    expiry          DATE,
    status          VARCHAR NOT NULL DEFAULT 'commissioned' CHECK (status IN (
                        'commissioned', 'packed', 'shipped', 'received', 'dispensed',
                        'decommissioned', 'suspect', 'quarantined')),
    container_id    VARCHAR,            -- parent container key (case "gtin.serial" or SSCC)
    location_id     VARCHAR,            -- last known location
    commissioned_at TIMESTAMP,          -- NULL: seen, but never commissioned
    PRIMARY KEY (gtin, serial)
);

CREATE TABLE containers (
    container_id      VARCHAR PRIMARY KEY,  -- SSCC (18 digits) or case SGTIN key "gtin.serial"
    kind              VARCHAR NOT NULL CHECK (kind IN ('pallet', 'case', 'tote', 'shipper')),
    parent_id         VARCHAR,
    declared_children INTEGER,
    shipment_id       VARCHAR,
    created_at        TIMESTAMP
);

CREATE TABLE orders (
    order_id        VARCHAR PRIMARY KEY,
    customer_gln    VARCHAR NOT NULL,
    ship_to_id      VARCHAR NOT NULL,
    po_number       VARCHAR,
    created_at      TIMESTAMP NOT NULL
);

CREATE TABLE assets (
    asset_id          VARCHAR PRIMARY KEY,
    kind              VARCHAR NOT NULL CHECK (kind IN ('reefer_truck', 'reefer_trailer', 'van', 'passive_shipper')),
    temp_min_c        DOUBLE NOT NULL,  -- range the asset can hold
    temp_max_c        DOUBLE NOT NULL,
    setpoint_c        DOUBLE,
    capacity_pallets  INTEGER NOT NULL,
    location_id       VARCHAR,          -- last known position
    status            VARCHAR NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'in_service', 'maintenance')),
    health            VARCHAR NOT NULL DEFAULT 'ok' CHECK (health IN ('ok', 'alarm', 'low_battery', 'fault')),
    battery_pct       DOUBLE,
    last_telemetry_at TIMESTAMP
);

CREATE TABLE routes (
    route_id   VARCHAR PRIMARY KEY,     -- e.g. R7
    asset_id   VARCHAR,
    origin_id  VARCHAR NOT NULL,
    departs_at TIMESTAMP NOT NULL,
    status     VARCHAR NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'active', 'completed'))
);

CREATE TABLE shipments (
    shipment_id      VARCHAR PRIMARY KEY,   -- e.g. SHP-1042
    order_id         VARCHAR,
    origin_id        VARCHAR NOT NULL,
    destination_id   VARCHAR NOT NULL,
    route_id         VARCHAR,
    asset_id         VARCHAR,
    status           VARCHAR NOT NULL DEFAULT 'planned' CHECK (status IN (
                         'planned', 'held', 'released', 'in_transit', 'delivered', 'quarantined')),
    planned_departure TIMESTAMP,
    departed_at      TIMESTAMP,
    eta              TIMESTAMP,
    promised_start   TIMESTAMP,             -- the delivery window promised to the customer
    promised_end     TIMESTAMP,
    delivered_at     TIMESTAMP,
    ti_document      VARCHAR,               -- DSCSA transaction information reference (NULL: missing)
    ts_attested      BOOLEAN NOT NULL DEFAULT FALSE,  -- transaction statement present
    notes            VARCHAR,               -- free text from customers and carriers: untrusted data
    updated_at       TIMESTAMP
);

-- What each shipment's transaction data declares, unit by unit (compared against `units`).
CREATE TABLE shipment_units (
    shipment_id  VARCHAR NOT NULL,
    gtin         VARCHAR NOT NULL,
    serial       VARCHAR NOT NULL,
    lot          VARCHAR,
    expiry       DATE,
    container_id VARCHAR,
    PRIMARY KEY (shipment_id, gtin, serial)
);

CREATE TABLE stops (
    route_id    VARCHAR NOT NULL,
    seq         INTEGER NOT NULL,
    location_id VARCHAR NOT NULL,
    shipment_id VARCHAR,
    eta         TIMESTAMP,
    PRIMARY KEY (route_id, seq)
);

CREATE TABLE sensor_readings (
    asset_id    VARCHAR NOT NULL,
    shipment_id VARCHAR,
    ts          TIMESTAMP NOT NULL,
    temp_c      DOUBLE NOT NULL,
    source      VARCHAR NOT NULL DEFAULT 'telemetry'
);

CREATE TABLE custody_events (
    event_id      VARCHAR PRIMARY KEY,
    event_type    VARCHAR NOT NULL,     -- ObjectEvent, AggregationEvent, TransactionEvent, ...
    action        VARCHAR,              -- ADD, OBSERVE, DELETE
    biz_step      VARCHAR,              -- CBV short name: commissioning, packing, shipping, ...
    disposition   VARCHAR,              -- CBV short name: active, in_transit, ...
    event_time    TIMESTAMP NOT NULL,   -- UTC
    tz_offset     VARCHAR,              -- as captured, e.g. -05:00
    epcs          VARCHAR[] NOT NULL DEFAULT [],   -- keys: "gtin.serial", SSCC, "gtin.lot" classes
    parent_id     VARCHAR,
    quantities    JSON,
    read_point    VARCHAR,
    biz_location  VARCHAR,
    source_id     VARCHAR,              -- owning party / location the goods left
    destination_id VARCHAR,
    shipment_id   VARCHAR,
    biz_transactions JSON,
    origin        VARCHAR NOT NULL DEFAULT 'epcis',  -- epcis | synth | tool | scan
    document_id   VARCHAR,
    raw           JSON                  -- the event as captured (untrusted extension fields included)
);

CREATE TABLE epcis_documents (
    document_id VARCHAR PRIMARY KEY,
    format      VARCHAR NOT NULL,       -- epcis2-json | epcis12-xml
    sha256      VARCHAR NOT NULL,
    imported_at TIMESTAMP NOT NULL,
    header      JSON,
    event_count INTEGER NOT NULL
);

CREATE TABLE epod (
    shipment_id  VARCHAR PRIMARY KEY,
    signed_by    VARCHAR NOT NULL,
    signed_at    TIMESTAMP NOT NULL,
    location_id  VARCHAR,
    lat          DOUBLE,
    lon          DOUBLE,
    condition    VARCHAR NOT NULL DEFAULT 'good',
    notes        VARCHAR
);

CREATE TABLE contacts (
    contact_id  VARCHAR PRIMARY KEY,
    partner_gln VARCHAR,
    location_id VARCHAR,
    name        VARCHAR NOT NULL,
    channel     VARCHAR NOT NULL CHECK (channel IN ('sms', 'email', 'voice')),
    address     VARCHAR NOT NULL,       -- phone number (E.164) or email address
    consent     BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE messages (
    message_id  VARCHAR PRIMARY KEY,
    contact_id  VARCHAR NOT NULL,
    channel     VARCHAR NOT NULL,
    address     VARCHAR NOT NULL,
    template    VARCHAR NOT NULL,
    body        VARCHAR NOT NULL,
    shipment_id VARCHAR,
    status      VARCHAR NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
    provider_id VARCHAR,
    created_at  TIMESTAMP NOT NULL,
    sent_at     TIMESTAMP
);

CREATE TABLE exceptions (
    exception_id VARCHAR PRIMARY KEY,   -- stable: hash of kind and subject
    kind         VARCHAR NOT NULL,
    severity     VARCHAR NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    subject      VARCHAR NOT NULL,      -- the shipment, unit, container, asset ... it is about
    shipment_id  VARCHAR,
    detected_at  TIMESTAMP NOT NULL,
    evidence     JSON NOT NULL,
    status       VARCHAR NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acted', 'pending_approval', 'resolved')),
    resolution   VARCHAR,
    updated_at   TIMESTAMP
);

CREATE TABLE approvals (
    approval_id  VARCHAR PRIMARY KEY,
    exception_id VARCHAR,
    tool         VARCHAR NOT NULL,
    args         JSON NOT NULL,
    proposer     VARCHAR NOT NULL,
    reason       VARCHAR,
    status       VARCHAR NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    created_at   TIMESTAMP NOT NULL,
    decided_by   VARCHAR,
    decided_at   TIMESTAMP,
    decision_reason VARCHAR,
    result       JSON,
    thread_id    VARCHAR
);

-- Ground truth of what the synthetic generator injected (for tests, evals and benchmarks).
CREATE TABLE synth_truth (
    kind        VARCHAR NOT NULL,
    subject     VARCHAR NOT NULL,
    shipment_id VARCHAR,
    details     JSON
);

-- Append-only, hash-chained audit trail (record/audit.py).
CREATE TABLE audit_log (
    seq             BIGINT PRIMARY KEY,
    ts              TIMESTAMP NOT NULL,
    actor           VARCHAR NOT NULL,   -- user, role or agent:<brain>
    role            VARCHAR,
    action          VARCHAR NOT NULL,
    subject         VARCHAR,
    inputs          JSON,
    result          JSON,
    reason          VARCHAR,
    model           VARCHAR,
    prompt_version  VARCHAR,
    idempotency_key VARCHAR,
    prev_hash       VARCHAR NOT NULL,
    hash            VARCHAR NOT NULL
);

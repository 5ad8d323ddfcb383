-- Verification of product identifiers, the shipment release gate, and message delivery attempts
-- (tools/verification.py, tools/messaging.py). Timestamps are naive UTC.

-- One row per product-identifier verification: the local check against commissioning data or
-- the manufacturer's answer (GS1 Lightweight Messaging). A responder that could not be reached
-- or answered garbage is recorded too, as status 'could_not_verify' (never a pass).
CREATE TABLE verifications (
    verification_id VARCHAR PRIMARY KEY,
    gtin            VARCHAR NOT NULL,
    serial          VARCHAR NOT NULL,
    lot             VARCHAR,
    expiry          DATE,
    context         VARCHAR NOT NULL,   -- dispenser_verification, saleable_return, ...
    status          VARCHAR NOT NULL CHECK (status IN ('verified', 'not_verified', 'could_not_verify')),
    verified        BOOLEAN NOT NULL,
    reasons         JSON NOT NULL,      -- GS1 LMS reason codes: No_match_GTIN_Serial, Recalled, ...
    responder       VARCHAR NOT NULL,   -- 'record' or the responder URL
    responder_gln   VARCHAR,
    correlation_id  VARCHAR NOT NULL,   -- the corrUUID sent with the request
    requester_gln   VARCHAR,
    detail          VARCHAR,            -- why it could not verify, or the responder's additional info
    shipment_id     VARCHAR,
    actor           VARCHAR NOT NULL,
    verified_at     TIMESTAMP NOT NULL
);

-- One row per run of the release gate (verify_shipment). release_shipment accepts only the latest
-- row when it passed and the shipment's data still hashes to data_fingerprint.
CREATE TABLE shipment_gates (
    gate_id            VARCHAR PRIMARY KEY,
    shipment_id        VARCHAR NOT NULL,
    passed             BOOLEAN NOT NULL,
    checked_at         TIMESTAMP NOT NULL,
    data_fingerprint   VARCHAR NOT NULL,  -- md5 over the units, lots, containers and TI/TS checked
    units_checked      INTEGER NOT NULL,
    containers_checked INTEGER NOT NULL,
    failure_count      INTEGER NOT NULL,
    counts_by_reason   JSON NOT NULL,     -- {"lot_recalled": 200, ...}
    failures           JSON NOT NULL,     -- the first failures (capped), each subject/reason/detail
    audit_seq          BIGINT NOT NULL,   -- audit head when the gate ran: later holds are newer
    actor              VARCHAR NOT NULL
);

-- Delivery attempts of outbox messages (tools/messaging.deliver_pending). A row with no outcome is
-- a claim in flight; the provider receives the message id as Idempotency-Key on every attempt.
CREATE TABLE message_attempts (
    message_id    VARCHAR NOT NULL,
    attempt       INTEGER NOT NULL,
    started_at    TIMESTAMP NOT NULL,
    finished_at   TIMESTAMP,
    outcome       VARCHAR CHECK (outcome IN ('sent', 'failed')),
    http_attempts INTEGER,
    error         VARCHAR,
    provider_id   VARCHAR,
    PRIMARY KEY (message_id, attempt)
);

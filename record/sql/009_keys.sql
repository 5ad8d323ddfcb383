-- HTTP server (agent/http): API keys and replayable responses for Idempotency-Key.
-- Same conventions as 001_core.sql: naive UTC timestamps.

-- API keys. The key itself is shown once when created; only a salted SHA-256 of its secret part
-- is kept. Keys are 256-bit random tokens, so a fast salted hash is enough (a slow password hash
-- would only add latency to every request). A revoked key stays listed, never reused.
CREATE TABLE api_keys (
    key_id     VARCHAR PRIMARY KEY,     -- e.g. 3f2a9c1e0b7d; the actor is "key:<key_id>"
    prefix     VARCHAR NOT NULL,        -- the key's visible start, "pl_<key_id>", to recognise it
    hash       VARCHAR NOT NULL,        -- "sha256$<salt hex>$<digest hex>" of the secret part
    role       VARCHAR NOT NULL CHECK (role IN ('ops_manager', 'contact_center', 'automation', 'auditor')),
    name       VARCHAR,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);

-- The first response to a write sent with an Idempotency-Key, replayed for retries.
CREATE TABLE http_idempotency (
    key          VARCHAR PRIMARY KEY,   -- "<key_id>:<Idempotency-Key header>": scoped to the caller
    route        VARCHAR NOT NULL,      -- method and path template, e.g. "POST /ingest/readings"
    request_hash VARCHAR NOT NULL,      -- SHA-256 over method, path and body
    status_code  INTEGER,               -- NULL while the first request is still running
    content_type VARCHAR,
    body         BLOB,
    created_at   TIMESTAMP NOT NULL
);

-- sensor_readings gets no unique index: the record legitimately stores one reading per shipment
-- aboard an asset at the same (asset_id, ts). POST /ingest/readings dedupes in SQL instead: a
-- reading whose (asset_id, shipment_id, ts) is already stored (or repeated in the batch) is
-- skipped, so a retried batch never stores a reading twice.

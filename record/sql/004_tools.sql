-- Idempotent tool calls: the first result of every WRITE, keyed by its idempotency key.
CREATE TABLE tool_calls (
    idempotency_key VARCHAR PRIMARY KEY,
    tool            VARCHAR NOT NULL,
    args_hash       VARCHAR NOT NULL,
    actor           VARCHAR NOT NULL,
    result          JSON NOT NULL,
    audit_seq       BIGINT,
    created_at      TIMESTAMP NOT NULL
);

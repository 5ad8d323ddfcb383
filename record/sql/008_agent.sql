-- Triage runs (one LangGraph thread each) and refusals the guard made before any tool ran.
CREATE TABLE triage_runs (
    run_id      VARCHAR PRIMARY KEY,
    brain       VARCHAR NOT NULL,
    actor       VARCHAR NOT NULL,
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status      VARCHAR NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'finished', 'failed')),
    summary     JSON
);

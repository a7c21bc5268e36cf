-- The control-room console's schema: portable between SQLite and PostgreSQL (times are Unix
-- milliseconds, payloads JSON text).

-- One row per episode (its start, updates and end folded in) and the operator's decision.
CREATE TABLE cases (
    episode_id   TEXT PRIMARY KEY,
    site         TEXT NOT NULL,
    camera_id    TEXT NOT NULL,
    grid_cell    TEXT NOT NULL,
    type         TEXT NOT NULL,
    subtype      TEXT NOT NULL,
    zone         TEXT NOT NULL,
    state        TEXT NOT NULL,
    first_alert  TEXT NOT NULL,
    end_alert    TEXT,
    end_reason   TEXT,
    decision     TEXT,
    operator     TEXT,
    decided_ms   BIGINT,
    messages     BIGINT NOT NULL,
    received_ms  BIGINT NOT NULL,
    updated_ms   BIGINT NOT NULL,
    broker       TEXT NOT NULL,
    last_alert   TEXT NOT NULL
);
CREATE INDEX cases_updated ON cases (updated_ms);
CREATE INDEX cases_state ON cases (state, updated_ms);

-- Every message of every episode, as received (the case's timeline and evidence).
CREATE TABLE alerts (
    id           TEXT PRIMARY KEY,
    episode_id   TEXT NOT NULL,
    phase        TEXT NOT NULL,
    reason       TEXT,
    received_ms  BIGINT NOT NULL,
    payload      TEXT NOT NULL
);
CREATE INDEX alerts_episode ON alerts (episode_id, received_ms);

-- The latest retained status and health message of each camera and site, by topic.
CREATE TABLE statuses (
    topic        TEXT PRIMARY KEY,
    broker       TEXT NOT NULL,
    received_ms  BIGINT NOT NULL,
    payload      TEXT NOT NULL
);

-- +goose Up
-- Shared rate-limit counters: one row per bucket and fixed window. Times are
-- Unix seconds from the service's clock, never the database's. The bucket
-- names the limit, its window in seconds and the subject (a client IP, or
-- the SHA-256 of an address key, so this table is no list of addresses).
CREATE TABLE rate_limit_counters (
    bucket       TEXT    NOT NULL,
    window_start BIGINT  NOT NULL,
    window_end   BIGINT  NOT NULL,
    hits         INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_limit_counters_window_end ON rate_limit_counters (window_end);

-- Wrong old passwords per account for the change back-off; Unix seconds.
-- No foreign key: the row is throttle state, removed by Limits.Cleanup.
CREATE TABLE change_failures (
    user_id          TEXT    PRIMARY KEY,
    failures         INTEGER NOT NULL,
    first_failure_at BIGINT  NOT NULL,
    last_failure_at  BIGINT  NOT NULL
);
CREATE INDEX change_failures_last_failure_at ON change_failures (last_failure_at);

-- +goose Down
DROP TABLE change_failures;
DROP TABLE rate_limit_counters;

-- Defences against password guessing: failed logins counted per login name
-- and per source address, and the locks they lead to. In the database, not
-- in memory, so that a lock set on one node holds on every node.
-- Runs unchanged on SQLite and PostgreSQL (see 00001_init.sql).

-- +goose Up

-- One row per subject that failed to log in within its window. subject is
-- 'login:' and a keyed hash of the login name (known or not: unknown names
-- are counted alike, so that locks tell nothing about which logins exist,
-- and a password typed into the name field is never stored), or 'source:'
-- and an IPv4 address or an IPv6 /64. label is what the log may show: the
-- login of a known account, the source address, or '' for an unknown name.
CREATE TABLE login_failures (
    subject         TEXT PRIMARY KEY,
    label           TEXT NOT NULL,
    window_start_ms BIGINT NOT NULL,
    failures        INTEGER NOT NULL,
    locked_until_ms BIGINT NOT NULL DEFAULT 0   -- 0: not locked (or the end was logged)
);
CREATE INDEX login_failures_window ON login_failures (window_start_ms);
CREATE INDEX login_failures_locked ON login_failures (locked_until_ms);

-- +goose Down
DROP TABLE login_failures;

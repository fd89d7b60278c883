-- Abuse resistance (SECURITY.md): wrong codes on the confirmation page are
-- counted per source, not per order; the sources an account logged in
-- from are remembered so that strangers cannot lock it out; address offers
-- keep one row per (account, name, address).
-- Runs unchanged on SQLite and PostgreSQL (see 00001_init.sql).

-- +goose Up

-- Wrong codes per subject in a fixed window. subject is 'source:' and an
-- IPv4 address or IPv6 /64 (its count across all orders; order_number 0),
-- or 'order:N source:...' (its count for one order, which must exist: no
-- row is ever made for an order number that does not). The old per-order
-- counts let anyone lock any order; they are dropped, not converted. epoch
-- is the id of the order's newest DCV email when the count was made: a
-- newer email starts the count afresh (its code is judged on its own).
DROP TABLE code_attempts;
CREATE TABLE code_attempts (
    subject         TEXT PRIMARY KEY,
    order_number    BIGINT NOT NULL,
    epoch           BIGINT NOT NULL,
    window_start_ms BIGINT NOT NULL,
    failures        INTEGER NOT NULL
);
CREATE INDEX code_attempts_window ON code_attempts (window_start_ms);

-- The sources (IPv4 address or IPv6 /64) from which an account logged in
-- successfully, and when last (refreshed at most once a day). Such a
-- source keeps access while others are locked out. Pruned past
-- --lockout-known-source-age.
CREATE TABLE login_sources (
    account_id      BIGINT NOT NULL REFERENCES accounts (id),
    source          TEXT NOT NULL,
    last_success_ms BIGINT NOT NULL,
    PRIMARY KEY (account_id, source)
);
CREATE INDEX login_sources_time ON login_sources (last_success_ms);

-- One offer per (account, name, address), with its latest time.
UPDATE address_offers SET offered_ms = (
    SELECT MAX(b.offered_ms) FROM address_offers b
    WHERE b.account_id = address_offers.account_id AND b.mailbox = address_offers.mailbox AND b.fqdn = address_offers.fqdn);
DELETE FROM address_offers WHERE id NOT IN (
    SELECT MAX(id) FROM address_offers GROUP BY account_id, fqdn, mailbox);
CREATE UNIQUE INDEX address_offers_key ON address_offers (account_id, fqdn, mailbox);
CREATE INDEX address_offers_time ON address_offers (offered_ms);

-- +goose Down
DROP INDEX address_offers_time;
DROP INDEX address_offers_key;
DROP TABLE login_sources;
DROP TABLE code_attempts;
CREATE TABLE code_attempts (
    order_number    BIGINT PRIMARY KEY,
    window_start_ms BIGINT NOT NULL,
    failures        INTEGER NOT NULL
);
CREATE INDEX code_attempts_window ON code_attempts (window_start_ms);

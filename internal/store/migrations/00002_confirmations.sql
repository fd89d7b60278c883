-- The domain owner's side: evidence of each confirmation on the
-- EnterDCVCode2 page, and the counter that limits wrong codes per order.
-- Runs unchanged on SQLite and PostgreSQL (see 00001_init.sql).

-- +goose Up

-- One row per code that validated domains: when, from where, with which
-- browser (docs/rules.md, "Evidence"). The domains are those the confirmation
-- validated, as ordered, separated by spaces; order_domains links each to
-- the email through validated_email_id as well.
CREATE TABLE confirmations (
    id           ID_COLUMN,
    order_number BIGINT NOT NULL REFERENCES orders (order_number),
    email_id     BIGINT NOT NULL REFERENCES dcv_emails (id),
    domains      TEXT NOT NULL,
    client_ip    TEXT NOT NULL,                -- the approver, as far as trusted proxies tell
    peer_addr    TEXT NOT NULL,                -- the TCP peer (a proxy, or the approver)
    user_agent   TEXT NOT NULL,
    confirmed_ms BIGINT NOT NULL
);
CREATE INDEX confirmations_order ON confirmations (order_number);

-- Codes submitted per order number in a fixed window. Not a foreign key:
-- numbers of orders that do not exist are counted alike, so that the limit
-- tells nothing about which orders exist. Rows whose window has passed are
-- pruned.
CREATE TABLE code_attempts (
    order_number    BIGINT PRIMARY KEY,
    window_start_ms BIGINT NOT NULL,
    failures        INTEGER NOT NULL
);
CREATE INDEX code_attempts_window ON code_attempts (window_start_ms);

-- +goose Down
DROP TABLE code_attempts;
DROP TABLE confirmations;

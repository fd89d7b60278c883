-- The schema runs unchanged on SQLite and PostgreSQL. Times are integer Unix
-- milliseconds (UTC); booleans are 0/1 integers. ID_COLUMN is the one
-- dialect difference, replaced when the migration is read (store/dialect.go).

-- +goose Up
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
-- Order numbers that dcvmail allocates start at eight digits, like the
-- vendor's; the demo's 1234567 lies below them.
INSERT INTO counters (name, value) VALUES ('order_number', 10000000);

CREATE TABLE accounts (
    id            ID_COLUMN,
    login         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    read_only     INTEGER NOT NULL DEFAULT 0,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_ms    BIGINT NOT NULL,
    updated_ms    BIGINT NOT NULL
);

CREATE TABLE templates (
    id          BIGINT PRIMARY KEY,
    subject     TEXT NOT NULL,
    text_body   TEXT NOT NULL,
    html_body   TEXT NOT NULL DEFAULT '',
    open_to_all INTEGER NOT NULL,
    created_ms  BIGINT NOT NULL
);

CREATE TABLE template_grants (
    template_id BIGINT NOT NULL REFERENCES templates (id),
    account_id  BIGINT NOT NULL REFERENCES accounts (id),
    PRIMARY KEY (template_id, account_id)
);

-- On SQLite, migration 5 (store/rekey.go, in Go) rebuilds orders with
-- order_number as its rowid and order_domains WITHOUT ROWID.
CREATE TABLE orders (
    order_number      BIGINT PRIMARY KEY,
    account_id        BIGINT NOT NULL REFERENCES accounts (id),
    base_order_number BIGINT NOT NULL,
    status            TEXT NOT NULL,           -- active, cancelled, rejected
    template_id       BIGINT,                  -- last used; NULL is the built-in one
    resend_tat_ms     BIGINT NOT NULL DEFAULT 0, -- GCRA theoretical arrival time
    created_ms        BIGINT NOT NULL
);
CREATE INDEX orders_base ON orders (base_order_number, order_number);
CREATE INDEX orders_account ON orders (account_id);

CREATE TABLE dcv_emails (
    id           ID_COLUMN,
    order_number BIGINT NOT NULL REFERENCES orders (order_number),
    recipient    TEXT NOT NULL,
    template_id  BIGINT,
    code_hash    TEXT NOT NULL UNIQUE,         -- keyed hash of the random value
    subject      TEXT NOT NULL,
    text_body    TEXT NOT NULL,
    html_body    TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    expires_ms   BIGINT NOT NULL
);
CREATE INDEX dcv_emails_order ON dcv_emails (order_number);

CREATE TABLE order_domains (
    order_number       BIGINT NOT NULL REFERENCES orders (order_number),
    position           INTEGER NOT NULL,
    domain_name        TEXT NOT NULL,          -- as ordered, e.g. *.example.com
    fqdn               TEXT NOT NULL,          -- normalized, for the address rules
    dcv_method         TEXT NOT NULL,          -- EMAIL, HTTP_CSR_HASH, ...
    dcv_email          TEXT NOT NULL DEFAULT '',
    dcv_source         TEXT NOT NULL DEFAULT '', -- BR method of dcv_email
    current_email_id   BIGINT REFERENCES dcv_emails (id),
    validated_ms       BIGINT,
    validated_email_id BIGINT REFERENCES dcv_emails (id),
    PRIMARY KEY (order_number, position)
);
CREATE INDEX order_domains_email ON order_domains (current_email_id);

CREATE TABLE outbox (
    id              ID_COLUMN,
    email_id        BIGINT NOT NULL REFERENCES dcv_emails (id),
    recipient       TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    state           TEXT NOT NULL,             -- pending, sent, failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,           -- also the lease: a claim moves it ahead
    lease_owner     TEXT NOT NULL DEFAULT '',
    last_reply      TEXT NOT NULL DEFAULT '',
    created_ms      BIGINT NOT NULL,
    sent_ms         BIGINT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_ms);
CREATE INDEX outbox_email ON outbox (email_id);

CREATE TABLE delivery_attempts (
    id           ID_COLUMN,
    outbox_id    BIGINT NOT NULL REFERENCES outbox (id),
    attempted_ms BIGINT NOT NULL,
    outcome      TEXT NOT NULL,                -- sent, retry, failed
    reply        TEXT NOT NULL,
    worker       TEXT NOT NULL                 -- which node's worker tried
);
CREATE INDEX delivery_attempts_outbox ON delivery_attempts (outbox_id);

-- The built-in mailbox: what the capturing sender delivered. One row per
-- outbox row, so a delivery repeated after a crash is not captured twice.
CREATE TABLE mailbox (
    id           ID_COLUMN,
    outbox_id    BIGINT NOT NULL UNIQUE REFERENCES outbox (id),
    order_number BIGINT NOT NULL,
    mail_from    TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    subject      TEXT NOT NULL,
    text_body    TEXT NOT NULL,
    html_body    TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    dcv_code     TEXT NOT NULL,
    raw          TEXT NOT NULL,
    captured_ms  BIGINT NOT NULL
);

-- What GetDCVEmailAddressList returned to whom and when: the record that the
-- 24-hour rule of ResendDCVEmail and AutoUpdateDCV checks.
CREATE TABLE address_offers (
    id         ID_COLUMN,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    fqdn       TEXT NOT NULL,
    mailbox    TEXT NOT NULL,
    source     TEXT NOT NULL,
    adn        TEXT NOT NULL,
    product    BIGINT,
    offered_ms BIGINT NOT NULL
);
CREATE INDEX address_offers_lookup ON address_offers (account_id, mailbox, offered_ms);

-- +goose Down
DROP TABLE address_offers;
DROP TABLE mailbox;
DROP TABLE delivery_attempts;
DROP TABLE outbox;
DROP TABLE order_domains;
DROP TABLE dcv_emails;
DROP TABLE orders;
DROP TABLE template_grants;
DROP TABLE templates;
DROP TABLE accounts;
DROP TABLE counters;
DROP TABLE settings;

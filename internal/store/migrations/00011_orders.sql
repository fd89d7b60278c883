-- Orders placed through the API (AutoApplySSL and the calls after it): what
-- an order bought, the account's credit, the certificates issued for an
-- order, and the built-in test CA's keys.
-- Runs unchanged on SQLite and PostgreSQL (see 00001_init.sql).

-- +goose Up
-- The accounts' credit and customer-pays terms, and the organization
-- validation of OV/EV orders, are columns of 00009_controls.sql.

-- What an API order bought. product 0: an order the operator made, which
-- sells nothing and is never issued.
ALTER TABLE orders ADD COLUMN product BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN validity_days INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN cost_cents BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN unique_value TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN payment_pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN test_order INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN foreign_order_number TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN caa_status TEXT NOT NULL DEFAULT ''; -- last CAA check: '', ok, forbidden: ..., unchecked
ALTER TABLE orders ADD COLUMN refunded_ms BIGINT;

-- One row per certificate request of an order: the first from
-- AutoApplySSL, one more per AutoReplaceSSL. state: pending (awaiting DCV
-- or CAA), issued, rejected. The issuing transaction moves a row from
-- pending to issued with a conditional UPDATE, so that of several nodes
-- exactly one issues it. DER and CSR are base64 text (the same column type
-- on both databases).
CREATE TABLE certificates (
    certificate_id BIGINT PRIMARY KEY,
    order_number   BIGINT NOT NULL REFERENCES orders (order_number),
    state          TEXT NOT NULL,
    csr            TEXT NOT NULL,
    names          TEXT NOT NULL,              -- the certificate's names, primary first, space separated
    serial         TEXT UNIQUE,                -- lowercase hex; NULL until issued
    der            TEXT,
    not_before_ms  BIGINT,
    not_after_ms   BIGINT,
    issued_ms      BIGINT,
    revoked_ms     BIGINT,
    revocation_reason INTEGER,
    created_ms     BIGINT NOT NULL
);
CREATE INDEX certificates_order ON certificates (order_number, certificate_id);
CREATE INDEX certificates_revoked ON certificates (revoked_ms);
INSERT INTO counters (name, value) VALUES ('certificate_id', 100000000);

-- The built-in CA's certificates and keys as one PEM document (package ca):
-- as secret as the rest of the database.
CREATE TABLE ca_material (
    name       TEXT PRIMARY KEY,
    pem        TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

-- +goose Down
DROP TABLE ca_material;
DELETE FROM counters WHERE name = 'certificate_id';
DROP INDEX certificates_revoked;
DROP INDEX certificates_order;
DROP TABLE certificates;
ALTER TABLE orders DROP COLUMN refunded_ms;
ALTER TABLE orders DROP COLUMN caa_status;
ALTER TABLE orders DROP COLUMN foreign_order_number;
ALTER TABLE orders DROP COLUMN test_order;
ALTER TABLE orders DROP COLUMN payment_pending;
ALTER TABLE orders DROP COLUMN unique_value;
ALTER TABLE orders DROP COLUMN cost_cents;
ALTER TABLE orders DROP COLUMN validity_days;
ALTER TABLE orders DROP COLUMN product;

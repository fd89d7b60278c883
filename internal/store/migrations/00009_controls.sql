-- The control API (docs/control.md): accounts carry a credit balance and
-- whether the customer pays; domains and orders record what validated
-- them, so that a validation made by a test control says so in the
-- evidence; fault rules live in the database so that every node sees them.
-- Runs unchanged on SQLite and PostgreSQL (see 00001_init.sql).

-- +goose Up
-- credit_cents NULL is unlimited credit.
ALTER TABLE accounts ADD COLUMN credit_cents BIGINT;
ALTER TABLE accounts ADD COLUMN customer_pays INTEGER NOT NULL DEFAULT 0;

-- validated_by is '' for an email confirmation (its evidence is the
-- confirmation and validated_email_id), 'test-control' otherwise.
ALTER TABLE order_domains ADD COLUMN validated_by TEXT NOT NULL DEFAULT '';

-- The organization validation of OV/EV orders.
ALTER TABLE orders ADD COLUMN org_validated_ms BIGINT;
ALTER TABLE orders ADD COLUMN org_validated_by TEXT NOT NULL DEFAULT '';

-- Fault rules of the test controls: rule is the rule as JSON; fired counts
-- the requests it hit, up to times (0: no limit). Checked oldest (lowest
-- id) first.
CREATE TABLE fault_rules (
    id         ID_COLUMN,
    rule       TEXT NOT NULL,
    times      INTEGER NOT NULL,
    fired      INTEGER NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL
);

-- +goose Down
DROP TABLE fault_rules;
ALTER TABLE orders DROP COLUMN org_validated_by;
ALTER TABLE orders DROP COLUMN org_validated_ms;
ALTER TABLE order_domains DROP COLUMN validated_by;
ALTER TABLE accounts DROP COLUMN customer_pays;
ALTER TABLE accounts DROP COLUMN credit_cents;

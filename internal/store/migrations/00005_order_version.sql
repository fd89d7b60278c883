-- A version on each order, raised by every change to the order or to its
-- domains. ResendDCVEmail reads an order's state outside the one writer's
-- turn and writes only if the version is still the one it read (see
-- store.SetOrderResendIf); an order changed meanwhile is read again under
-- the lock. Runs unchanged on SQLite and PostgreSQL (see 00001_init.sql).

-- +goose Up
ALTER TABLE orders ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE orders DROP COLUMN version;

-- The mailbox as a Mailpit-compatible API and page: a message is marked
-- read when someone opens it, as Mailpit does (its summaries carry "Read"
-- and its lists count "unread"); searches by order number use an index.
-- Runs unchanged on SQLite and PostgreSQL (see 00001_init.sql).

-- +goose Up
ALTER TABLE mailbox ADD COLUMN read_flag INTEGER NOT NULL DEFAULT 0;
CREATE INDEX mailbox_order ON mailbox (order_number);

-- +goose Down
DROP INDEX mailbox_order;
ALTER TABLE mailbox DROP COLUMN read_flag;

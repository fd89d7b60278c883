-- The page's POST asks for the newest DCV email of an order (store.CodeLookup:
-- MAX(id) of the order's emails). With an index on order_number alone,
-- PostgreSQL may read the primary key backwards from the newest email of all
-- and filter by order, and did so on a database that had not been analysed
-- yet: 3.4 ms per POST with 31,000 emails, slower with each email sent
-- (BENCHMARKS.md, "Fourth round"). An index by order and id answers the
-- newest email of an order from its last entry, whatever the statistics.
-- SQLite's index on order_number already ended with the rowid (id), so
-- there this only names it.
-- Runs unchanged on SQLite and PostgreSQL (see 00001_init.sql).

-- +goose Up
CREATE INDEX dcv_emails_order_id ON dcv_emails (order_number, id);
DROP INDEX dcv_emails_order;

-- +goose Down
CREATE INDEX dcv_emails_order ON dcv_emails (order_number);
DROP INDEX dcv_emails_order_id;

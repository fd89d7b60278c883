-- Every GetDCVEmailAddressList rewrites the time of each offer it makes
-- (store.RecordOffers). Pruning found expired offers through an index on
-- that time, so every rewrite also moved the row's entry in that index; on
-- PostgreSQL a change to any indexed column also rules out an update in
-- place (heap-only), so each rewrite wrote a new row version with an entry
-- in every index of the table. Pruning now finds expired offers by the
-- hour they were made in (offered_ms / 3,600,000): a rewrite within the
-- same hour leaves every indexed column as it was. The row keeps its exact
-- time, which rule 3 reads (store.OffersOf).
-- Runs unchanged on SQLite and PostgreSQL (see 00001_init.sql).

-- +goose Up
ALTER TABLE address_offers ADD COLUMN offered_hour BIGINT NOT NULL DEFAULT 0;
UPDATE address_offers SET offered_hour = offered_ms / 3600000;
CREATE INDEX address_offers_hour ON address_offers (offered_hour);
DROP INDEX address_offers_time;

-- +goose Down
CREATE INDEX address_offers_time ON address_offers (offered_ms);
DROP INDEX address_offers_hour;
ALTER TABLE address_offers DROP COLUMN offered_hour;

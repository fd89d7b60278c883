-- Every GetDCVEmailAddressList rewrites the time of each offer it makes
-- (store.RecordOffers), and every index that holds that time has its entry
-- moved on each call. The lookup of rule 3 (store.OffersOf: this account,
-- this mailbox, since when) finds a mailbox's few rows by account and
-- mailbox alone, and checks their time in the row, so its index no longer
-- holds the time; address_offers_time, which pruning needs, is the one index
-- left that moves.
-- Runs unchanged on SQLite and PostgreSQL (see 00001_init.sql).

-- +goose Up
CREATE INDEX address_offers_mailbox ON address_offers (account_id, mailbox);
DROP INDEX address_offers_lookup;

-- +goose Down
CREATE INDEX address_offers_lookup ON address_offers (account_id, mailbox, offered_ms);
DROP INDEX address_offers_mailbox;

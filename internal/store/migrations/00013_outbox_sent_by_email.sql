-- GetMDCDomainDetails asks when a live email was last sent
-- (store.SendingsOf): with the send time in the index by email, that is a
-- read of the index alone, however many times the email was resent.
-- Runs unchanged on SQLite and PostgreSQL (see 00001_init.sql).

-- +goose Up
CREATE INDEX outbox_email_sent ON outbox (email_id, sent_ms);
DROP INDEX outbox_email;

-- +goose Down
CREATE INDEX outbox_email ON outbox (email_id);
DROP INDEX outbox_email_sent;

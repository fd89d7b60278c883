-- GetMDCDomainDetails reports the newest delivery attempt of each live
-- email (store.SendingsOf). Found through delivery_attempts, that meant one
-- probe of the attempts' index for every delivery the email ever had, so the
-- call grew slower with each resend. Each delivery now names its newest
-- attempt (store.FinishAttempt sets it), and the outbox's index by email
-- holds it beside the send time: the newest attempt of an email is then the
-- largest id in one walk of that index, and one row read.
-- Runs unchanged on SQLite and PostgreSQL (see 00001_init.sql).

-- +goose Up
ALTER TABLE outbox ADD COLUMN last_attempt_id BIGINT;
UPDATE outbox SET last_attempt_id = (SELECT MAX(a.id) FROM delivery_attempts a WHERE a.outbox_id = outbox.id);
CREATE INDEX outbox_email_sent_attempt ON outbox (email_id, sent_ms, last_attempt_id);
DROP INDEX outbox_email_sent;

-- +goose Down
CREATE INDEX outbox_email_sent ON outbox (email_id, sent_ms);
DROP INDEX outbox_email_sent_attempt;
ALTER TABLE outbox DROP COLUMN last_attempt_id;

-- The rendered message of a DCV email moves out of its row into a table of
-- its own. A resend reads an email's recipient, template and expiry on
-- every call, and an outbox insert checks the email's key; with 4 KB of
-- message in the row, SQLite kept every row on a page of its own plus an
-- overflow page (the columns after the bodies could be reached only through
-- them), so with a million emails each lookup read pages that no cache
-- held. The message is read only to deliver it and to show it.
-- Runs unchanged on SQLite and PostgreSQL (see 00001_init.sql).

-- +goose Up
CREATE TABLE dcv_email_bodies (
    email_id  BIGINT PRIMARY KEY REFERENCES dcv_emails (id),
    subject   TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL
);
INSERT INTO dcv_email_bodies (email_id, subject, text_body, html_body)
    SELECT id, subject, text_body, html_body FROM dcv_emails;
ALTER TABLE dcv_emails DROP COLUMN subject;
ALTER TABLE dcv_emails DROP COLUMN text_body;
ALTER TABLE dcv_emails DROP COLUMN html_body;

-- +goose Down
ALTER TABLE dcv_emails ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE dcv_emails ADD COLUMN text_body TEXT NOT NULL DEFAULT '';
ALTER TABLE dcv_emails ADD COLUMN html_body TEXT NOT NULL DEFAULT '';
UPDATE dcv_emails SET
    subject   = (SELECT b.subject FROM dcv_email_bodies b WHERE b.email_id = dcv_emails.id),
    text_body = (SELECT b.text_body FROM dcv_email_bodies b WHERE b.email_id = dcv_emails.id),
    html_body = (SELECT b.html_body FROM dcv_email_bodies b WHERE b.email_id = dcv_emails.id);
DROP TABLE dcv_email_bodies;

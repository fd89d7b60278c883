-- The rendered message of a DCV email holds its random value in clear; from
-- here on it is sealed under a key kept outside the database
-- (store/sealing.go, SECURITY.md "Codes at rest"). sealed is 1 for a sealed
-- message: text_body holds it, html_body is empty, and subject is the
-- subject to show with anything shaped like a code masked. Messages written
-- before, or by a process without the key, keep sealed = 0 and are read as
-- they are.
-- Runs unchanged on SQLite and PostgreSQL (see 00001_init.sql).

-- +goose Up
ALTER TABLE dcv_email_bodies ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE dcv_email_bodies DROP COLUMN sealed;

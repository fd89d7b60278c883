-- The reuse of validation (AutoApplySSL, AutoReplaceSSL) asks when an
-- account last validated a name: without an index by name it read every
-- domain of every order of the account (73 % of an AutoApplySSL's CPU in
-- `dcvmail bench`, BENCHMARKS.md).
-- Runs unchanged on SQLite and PostgreSQL (see 00001_init.sql).

-- +goose Up
CREATE INDEX order_domains_fqdn ON order_domains (fqdn, validated_ms);

-- +goose Down
DROP INDEX order_domains_fqdn;

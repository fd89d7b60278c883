-- The CRL lists every revoked certificate in serial order
-- (store.RevokedCertificates). With an index on revoked_ms alone, SQLite
-- read the whole table in the order of its index on serial and looked at
-- each row: 13.5 ms of CPU for a CRL of 500 entries among the ~20,000
-- certificates of a bench run (BENCHMARKS.md, "Seventeenth round"), and
-- more with every certificate issued. A partial index holding only the
-- revoked certificates, with what the CRL reads, in serial order, costs
-- what the revoked list does.
-- Runs unchanged on SQLite and PostgreSQL (see 00001_init.sql).

-- +goose Up
CREATE INDEX certificates_revoked_serial ON certificates (serial, revoked_ms, revocation_reason) WHERE revoked_ms IS NOT NULL;
DROP INDEX certificates_revoked;

-- +goose Down
CREATE INDEX certificates_revoked ON certificates (revoked_ms);
DROP INDEX certificates_revoked_serial;

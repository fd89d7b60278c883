-- The least a durable write costs: one UPDATE and its flushed COMMIT
-- (BENCHMARKS.md, "PostgreSQL alone").
\set n random(10000002, 10001001)
BEGIN;
UPDATE orders SET resend_tat_ms = resend_tat_ms + 1 WHERE order_number = :n;
COMMIT;

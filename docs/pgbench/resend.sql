-- The statements of one ResendDCVEmail on PostgreSQL, as dcvmail sends
-- them (the login's read, then the transaction of dcv.Service.Resend), for
-- pgbench on a database that `dcvmail bench --db postgres://...` has
-- seeded (its orders start at 10000002). See BENCHMARKS.md, "PostgreSQL
-- alone". The UPDATE and INSERT write what a resend writes, with values of
-- their own.
\set n random(10000002, 10001001)
SELECT a.id FROM accounts a WHERE a.id = 1;
BEGIN;
SELECT order_number, account_id FROM orders WHERE order_number = :n FOR UPDATE;
SELECT o.order_number, o.account_id, o.base_order_number, o.status, o.template_id, o.resend_tat_ms, o.created_ms, d.position, d.domain_name, d.fqdn, d.dcv_method, d.dcv_email, d.dcv_source, d.current_email_id, d.validated_ms, d.validated_email_id, e.recipient, e.template_id, e.code_hash, e.created_ms, e.expires_ms FROM orders o LEFT JOIN order_domains d ON d.order_number = o.order_number LEFT JOIN dcv_emails e ON e.id = d.current_email_id WHERE o.order_number = :n ORDER BY d.position;
UPDATE orders SET resend_tat_ms = resend_tat_ms + 1 WHERE order_number = :n;
INSERT INTO outbox (email_id, recipient, message_id, state, next_attempt_ms, created_ms) SELECT current_email_id, 'x@y', 'mid', 'held', 1, 1 FROM order_domains WHERE order_number = :n AND current_email_id IS NOT NULL LIMIT 1 RETURNING id;
COMMIT;

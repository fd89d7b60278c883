-- Ten resends' transactions as one (BENCHMARKS.md, "PostgreSQL alone"):
-- the four statements of resend.sql ten times, each in a savepoint, and one
-- COMMIT: what group commit across requests would send.
BEGIN;
\set n1 random(10000002, 10001001)
SAVEPOINT m;
SELECT order_number, account_id FROM orders WHERE order_number = :n1 FOR UPDATE;
SELECT o.order_number, o.account_id, o.base_order_number, o.status, o.template_id, o.resend_tat_ms, o.created_ms, d.position, d.domain_name, d.fqdn, d.dcv_method, d.dcv_email, d.dcv_source, d.current_email_id, d.validated_ms, d.validated_email_id, e.recipient, e.template_id, e.code_hash, e.created_ms, e.expires_ms FROM orders o LEFT JOIN order_domains d ON d.order_number = o.order_number LEFT JOIN dcv_emails e ON e.id = d.current_email_id WHERE o.order_number = :n1 ORDER BY d.position;
UPDATE orders SET resend_tat_ms = resend_tat_ms + 1 WHERE order_number = :n1;
INSERT INTO outbox (email_id, recipient, message_id, state, next_attempt_ms, created_ms) SELECT current_email_id, 'x@y', 'mid', 'held', 1, 1 FROM order_domains WHERE order_number = :n1 AND current_email_id IS NOT NULL LIMIT 1 RETURNING id;
RELEASE m;
\set n2 random(10000002, 10001001)
SAVEPOINT m;
SELECT order_number, account_id FROM orders WHERE order_number = :n2 FOR UPDATE;
SELECT o.order_number, o.account_id, o.base_order_number, o.status, o.template_id, o.resend_tat_ms, o.created_ms, d.position, d.domain_name, d.fqdn, d.dcv_method, d.dcv_email, d.dcv_source, d.current_email_id, d.validated_ms, d.validated_email_id, e.recipient, e.template_id, e.code_hash, e.created_ms, e.expires_ms FROM orders o LEFT JOIN order_domains d ON d.order_number = o.order_number LEFT JOIN dcv_emails e ON e.id = d.current_email_id WHERE o.order_number = :n2 ORDER BY d.position;
UPDATE orders SET resend_tat_ms = resend_tat_ms + 1 WHERE order_number = :n2;
INSERT INTO outbox (email_id, recipient, message_id, state, next_attempt_ms, created_ms) SELECT current_email_id, 'x@y', 'mid', 'held', 1, 1 FROM order_domains WHERE order_number = :n2 AND current_email_id IS NOT NULL LIMIT 1 RETURNING id;
RELEASE m;
\set n3 random(10000002, 10001001)
SAVEPOINT m;
SELECT order_number, account_id FROM orders WHERE order_number = :n3 FOR UPDATE;
SELECT o.order_number, o.account_id, o.base_order_number, o.status, o.template_id, o.resend_tat_ms, o.created_ms, d.position, d.domain_name, d.fqdn, d.dcv_method, d.dcv_email, d.dcv_source, d.current_email_id, d.validated_ms, d.validated_email_id, e.recipient, e.template_id, e.code_hash, e.created_ms, e.expires_ms FROM orders o LEFT JOIN order_domains d ON d.order_number = o.order_number LEFT JOIN dcv_emails e ON e.id = d.current_email_id WHERE o.order_number = :n3 ORDER BY d.position;
UPDATE orders SET resend_tat_ms = resend_tat_ms + 1 WHERE order_number = :n3;
INSERT INTO outbox (email_id, recipient, message_id, state, next_attempt_ms, created_ms) SELECT current_email_id, 'x@y', 'mid', 'held', 1, 1 FROM order_domains WHERE order_number = :n3 AND current_email_id IS NOT NULL LIMIT 1 RETURNING id;
RELEASE m;
\set n4 random(10000002, 10001001)
SAVEPOINT m;
SELECT order_number, account_id FROM orders WHERE order_number = :n4 FOR UPDATE;
SELECT o.order_number, o.account_id, o.base_order_number, o.status, o.template_id, o.resend_tat_ms, o.created_ms, d.position, d.domain_name, d.fqdn, d.dcv_method, d.dcv_email, d.dcv_source, d.current_email_id, d.validated_ms, d.validated_email_id, e.recipient, e.template_id, e.code_hash, e.created_ms, e.expires_ms FROM orders o LEFT JOIN order_domains d ON d.order_number = o.order_number LEFT JOIN dcv_emails e ON e.id = d.current_email_id WHERE o.order_number = :n4 ORDER BY d.position;
UPDATE orders SET resend_tat_ms = resend_tat_ms + 1 WHERE order_number = :n4;
INSERT INTO outbox (email_id, recipient, message_id, state, next_attempt_ms, created_ms) SELECT current_email_id, 'x@y', 'mid', 'held', 1, 1 FROM order_domains WHERE order_number = :n4 AND current_email_id IS NOT NULL LIMIT 1 RETURNING id;
RELEASE m;
\set n5 random(10000002, 10001001)
SAVEPOINT m;
SELECT order_number, account_id FROM orders WHERE order_number = :n5 FOR UPDATE;
SELECT o.order_number, o.account_id, o.base_order_number, o.status, o.template_id, o.resend_tat_ms, o.created_ms, d.position, d.domain_name, d.fqdn, d.dcv_method, d.dcv_email, d.dcv_source, d.current_email_id, d.validated_ms, d.validated_email_id, e.recipient, e.template_id, e.code_hash, e.created_ms, e.expires_ms FROM orders o LEFT JOIN order_domains d ON d.order_number = o.order_number LEFT JOIN dcv_emails e ON e.id = d.current_email_id WHERE o.order_number = :n5 ORDER BY d.position;
UPDATE orders SET resend_tat_ms = resend_tat_ms + 1 WHERE order_number = :n5;
INSERT INTO outbox (email_id, recipient, message_id, state, next_attempt_ms, created_ms) SELECT current_email_id, 'x@y', 'mid', 'held', 1, 1 FROM order_domains WHERE order_number = :n5 AND current_email_id IS NOT NULL LIMIT 1 RETURNING id;
RELEASE m;
\set n6 random(10000002, 10001001)
SAVEPOINT m;
SELECT order_number, account_id FROM orders WHERE order_number = :n6 FOR UPDATE;
SELECT o.order_number, o.account_id, o.base_order_number, o.status, o.template_id, o.resend_tat_ms, o.created_ms, d.position, d.domain_name, d.fqdn, d.dcv_method, d.dcv_email, d.dcv_source, d.current_email_id, d.validated_ms, d.validated_email_id, e.recipient, e.template_id, e.code_hash, e.created_ms, e.expires_ms FROM orders o LEFT JOIN order_domains d ON d.order_number = o.order_number LEFT JOIN dcv_emails e ON e.id = d.current_email_id WHERE o.order_number = :n6 ORDER BY d.position;
UPDATE orders SET resend_tat_ms = resend_tat_ms + 1 WHERE order_number = :n6;
INSERT INTO outbox (email_id, recipient, message_id, state, next_attempt_ms, created_ms) SELECT current_email_id, 'x@y', 'mid', 'held', 1, 1 FROM order_domains WHERE order_number = :n6 AND current_email_id IS NOT NULL LIMIT 1 RETURNING id;
RELEASE m;
\set n7 random(10000002, 10001001)
SAVEPOINT m;
SELECT order_number, account_id FROM orders WHERE order_number = :n7 FOR UPDATE;
SELECT o.order_number, o.account_id, o.base_order_number, o.status, o.template_id, o.resend_tat_ms, o.created_ms, d.position, d.domain_name, d.fqdn, d.dcv_method, d.dcv_email, d.dcv_source, d.current_email_id, d.validated_ms, d.validated_email_id, e.recipient, e.template_id, e.code_hash, e.created_ms, e.expires_ms FROM orders o LEFT JOIN order_domains d ON d.order_number = o.order_number LEFT JOIN dcv_emails e ON e.id = d.current_email_id WHERE o.order_number = :n7 ORDER BY d.position;
UPDATE orders SET resend_tat_ms = resend_tat_ms + 1 WHERE order_number = :n7;
INSERT INTO outbox (email_id, recipient, message_id, state, next_attempt_ms, created_ms) SELECT current_email_id, 'x@y', 'mid', 'held', 1, 1 FROM order_domains WHERE order_number = :n7 AND current_email_id IS NOT NULL LIMIT 1 RETURNING id;
RELEASE m;
\set n8 random(10000002, 10001001)
SAVEPOINT m;
SELECT order_number, account_id FROM orders WHERE order_number = :n8 FOR UPDATE;
SELECT o.order_number, o.account_id, o.base_order_number, o.status, o.template_id, o.resend_tat_ms, o.created_ms, d.position, d.domain_name, d.fqdn, d.dcv_method, d.dcv_email, d.dcv_source, d.current_email_id, d.validated_ms, d.validated_email_id, e.recipient, e.template_id, e.code_hash, e.created_ms, e.expires_ms FROM orders o LEFT JOIN order_domains d ON d.order_number = o.order_number LEFT JOIN dcv_emails e ON e.id = d.current_email_id WHERE o.order_number = :n8 ORDER BY d.position;
UPDATE orders SET resend_tat_ms = resend_tat_ms + 1 WHERE order_number = :n8;
INSERT INTO outbox (email_id, recipient, message_id, state, next_attempt_ms, created_ms) SELECT current_email_id, 'x@y', 'mid', 'held', 1, 1 FROM order_domains WHERE order_number = :n8 AND current_email_id IS NOT NULL LIMIT 1 RETURNING id;
RELEASE m;
\set n9 random(10000002, 10001001)
SAVEPOINT m;
SELECT order_number, account_id FROM orders WHERE order_number = :n9 FOR UPDATE;
SELECT o.order_number, o.account_id, o.base_order_number, o.status, o.template_id, o.resend_tat_ms, o.created_ms, d.position, d.domain_name, d.fqdn, d.dcv_method, d.dcv_email, d.dcv_source, d.current_email_id, d.validated_ms, d.validated_email_id, e.recipient, e.template_id, e.code_hash, e.created_ms, e.expires_ms FROM orders o LEFT JOIN order_domains d ON d.order_number = o.order_number LEFT JOIN dcv_emails e ON e.id = d.current_email_id WHERE o.order_number = :n9 ORDER BY d.position;
UPDATE orders SET resend_tat_ms = resend_tat_ms + 1 WHERE order_number = :n9;
INSERT INTO outbox (email_id, recipient, message_id, state, next_attempt_ms, created_ms) SELECT current_email_id, 'x@y', 'mid', 'held', 1, 1 FROM order_domains WHERE order_number = :n9 AND current_email_id IS NOT NULL LIMIT 1 RETURNING id;
RELEASE m;
\set n10 random(10000002, 10001001)
SAVEPOINT m;
SELECT order_number, account_id FROM orders WHERE order_number = :n10 FOR UPDATE;
SELECT o.order_number, o.account_id, o.base_order_number, o.status, o.template_id, o.resend_tat_ms, o.created_ms, d.position, d.domain_name, d.fqdn, d.dcv_method, d.dcv_email, d.dcv_source, d.current_email_id, d.validated_ms, d.validated_email_id, e.recipient, e.template_id, e.code_hash, e.created_ms, e.expires_ms FROM orders o LEFT JOIN order_domains d ON d.order_number = o.order_number LEFT JOIN dcv_emails e ON e.id = d.current_email_id WHERE o.order_number = :n10 ORDER BY d.position;
UPDATE orders SET resend_tat_ms = resend_tat_ms + 1 WHERE order_number = :n10;
INSERT INTO outbox (email_id, recipient, message_id, state, next_attempt_ms, created_ms) SELECT current_email_id, 'x@y', 'mid', 'held', 1, 1 FROM order_domains WHERE order_number = :n10 AND current_email_id IS NOT NULL LIMIT 1 RETURNING id;
RELEASE m;
COMMIT;

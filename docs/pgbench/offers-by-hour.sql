-- One address list's ten offers for a name, upserted within the same hour:
-- no indexed column changes, so PostgreSQL can update each row in place.
\set a random(1,10)
\set d random(1,1000)
INSERT INTO ao (account_id, fqdn, mailbox, source, adn, product, offered_ms, offered_hour) SELECT :a, 'd'||:d||'.example.com', m||'@d'||:d||'.example.com', 'constructed', 'example.com', NULL, 5, 0 FROM generate_series(1,10) m ON CONFLICT (account_id, fqdn, mailbox) DO UPDATE SET source = excluded.source, adn = excluded.adn, product = excluded.product, offered_ms = excluded.offered_ms, offered_hour = excluded.offered_hour;

-- One address list's ten offers for a name, upserted, each with a new time:
-- every update changes the indexed offered_ms, so none is heap-only.
\set a random(1,10)
\set d random(1,1000)
\set t random(1,1000000000)
INSERT INTO ao (account_id, fqdn, mailbox, source, adn, product, offered_ms, offered_hour) SELECT :a, 'd'||:d||'.example.com', m||'@d'||:d||'.example.com', 'constructed', 'example.com', NULL, :t, 0 FROM generate_series(1,10) m ON CONFLICT (account_id, fqdn, mailbox) DO UPDATE SET source = excluded.source, adn = excluded.adn, product = excluded.product, offered_ms = excluded.offered_ms, offered_hour = excluded.offered_hour;

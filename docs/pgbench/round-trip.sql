-- One round trip and nothing else (BENCHMARKS.md, "PostgreSQL alone").
SELECT 1;

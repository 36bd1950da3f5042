-- Right to erasure: what the sink deleted for each request (`journey erase`), as proof of it. No
-- personal data: the request id, which table, which kind of key and how many rows, never the key.

CREATE TABLE IF NOT EXISTS {database}.erasures
(
    request_id String,
    table LowCardinality(String),
    key_kind LowCardinality(String),
    rows UInt64,
    erased_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (request_id, table);

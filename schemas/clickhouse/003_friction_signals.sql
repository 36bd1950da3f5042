-- Raw table, one row per record of journey.friction. Every row carries its source Kafka partition
-- and offset (lineage; the sink's resume point is in sink_progress). A Replacing engine drops
-- re-sent records (identical keys) at merge time; exact queries use FINAL or argMax(version). The
-- dedup window lets the sink's insert_deduplication_token drop a retried batch at insert time.

CREATE TABLE IF NOT EXISTS {database}.friction_signals
(
    signal_id UUID,
    kind LowCardinality(String),
    severity LowCardinality(String),
    journey_key String,
    customer_id Nullable(String),
    account_id Nullable(String),
    session_id Nullable(UUID),
    detected_at DateTime64(3, 'UTC'),
    occurred_at DateTime64(3, 'UTC'),
    channel LowCardinality(Nullable(String)),
    touchpoint LowCardinality(Nullable(String)),
    flow LowCardinality(Nullable(String)),
    step LowCardinality(Nullable(String)),
    count UInt32,
    details String CODEC(ZSTD(3)),
    version UInt8,
    _kafka_partition UInt16,
    _kafka_offset UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (kind, signal_id)
TTL toDateTime(occurred_at) + INTERVAL {raw_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;

-- Raw table, one row per record of journey.touchpoints. Every row carries its source Kafka
-- partition and offset (lineage; the sink's resume point is in sink_progress). A Replacing engine
-- drops re-sent records (identical keys) at merge time; exact queries use FINAL or argMax(version).
-- The dedup window lets the sink's insert_deduplication_token drop a retried batch at insert time.

CREATE TABLE IF NOT EXISTS {database}.touchpoints
(
    event_id UUID,
    occurred_at DateTime64(3, 'UTC'),
    journey_key String,
    customer_id Nullable(String),
    anonymous_id Nullable(String),
    account_id Nullable(String),
    session_id Nullable(UUID),
    stage LowCardinality(Nullable(String)),
    late Bool,
    channel LowCardinality(String),
    touchpoint LowCardinality(String),
    flow LowCardinality(Nullable(String)),
    step LowCardinality(Nullable(String)),
    score Nullable(Int16),
    properties String CODEC(ZSTD(3)),
    source LowCardinality(String),
    _kafka_partition UInt16,
    _kafka_offset UInt64,
    _inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (toDate(occurred_at), touchpoint, event_id)
TTL toDateTime(occurred_at) + INTERVAL {raw_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;

-- Raw table, one row per record of journey.sessions (one per session version). Every row carries
-- its source Kafka partition and offset (lineage; the sink's resume point is in sink_progress). A
-- Replacing engine drops re-sent records (identical keys) at merge time; exact queries use FINAL or
-- argMax(version). The dedup window lets the sink's insert_deduplication_token drop a retried batch
-- at insert time.

CREATE TABLE IF NOT EXISTS {database}.sessions
(
    session_id UUID,
    journey_key String,
    customer_id Nullable(String),
    account_id Nullable(String),
    started_at DateTime64(3, 'UTC'),
    ended_at DateTime64(3, 'UTC'),
    duration_ms UInt64,
    event_count UInt32,
    channels Array(LowCardinality(String)),
    path Array(LowCardinality(String)),
    stages Array(LowCardinality(String)),
    merged_from Array(UUID),
    close_reason LowCardinality(String),
    friction_score Float32,
    version UInt32,
    _kafka_partition UInt16,
    _kafka_offset UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(started_at)
ORDER BY session_id
TTL toDateTime(started_at) + INTERVAL {raw_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;

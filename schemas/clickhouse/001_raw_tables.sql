-- Raw tables, one row per record of the journey.* topics. Every row carries its source Kafka
-- partition and offset (the sink resumes from them). Replacing engines drop re-sent records
-- (identical keys) at merge time; queries that must be exact use FINAL or argMax(version).
-- Dedup windows let the sink's insert_deduplication_token drop a retried batch at insert time.

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

CREATE TABLE IF NOT EXISTS {database}.stage_transitions
(
    transition_id UUID,
    journey_key String,
    customer_id Nullable(String),
    from_stage LowCardinality(Nullable(String)),
    to_stage LowCardinality(String),
    at DateTime64(3, 'UTC'),
    time_in_previous_ms Nullable(Int64),
    first_time Bool,
    event_id UUID,
    time_to_first_value_ms Nullable(Int64),
    _kafka_partition UInt16,
    _kafka_offset UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY transition_id
TTL toDateTime(at) + INTERVAL {raw_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {database}.identity_links
(
    kind LowCardinality(String),
    anonymous_id String,
    customer_id String,
    claimed_customer_id Nullable(String),
    linked_at Nullable(DateTime64(3, 'UTC')),
    event_id UUID,
    _kafka_partition UInt16,
    _kafka_offset UInt64
)
ENGINE = ReplacingMergeTree
ORDER BY (anonymous_id, kind, event_id)
SETTINGS non_replicated_deduplication_window = 1000;

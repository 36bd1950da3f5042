-- Raw table, one row per record of journey.stages. Every row carries its source Kafka partition and
-- offset (lineage; the sink's resume point is in sink_progress). A Replacing engine drops re-sent
-- records (identical keys) at merge time; exact queries use FINAL or argMax(version). The dedup
-- window lets the sink's insert_deduplication_token drop a retried batch at insert time.

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

-- Raw table, one row per record of journey.identities. Every row carries its source Kafka partition
-- and offset (lineage; the sink's resume point is in sink_progress). A Replacing engine drops
-- re-sent records (identical keys) at merge time; exact queries use FINAL or argMax(version). The
-- dedup window lets the sink's insert_deduplication_token drop a retried batch at insert time.

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

"""Prometheus series of the stream stages (`journey_` prefix), served on the worker's /metrics."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

from journey.config import SIGNAL_KINDS
from journey.streams.friction.signal import SEVERITIES

EVENTS = Counter(
    "journey_events",
    "Events consumed by a stage, by outcome (valid, invalid, duplicate, late, misrouted).",
    ["stage", "outcome"],
)
SESSIONS_OPENED = Counter("journey_sessions_opened", "Sessions opened.")
SESSIONS_CLOSED = Counter("journey_sessions_closed", "Sessions closed, by reason.", ["reason"])
ACTIVE_SESSIONS = Gauge("journey_active_sessions", "Journeys with an open session on this worker.")
STAGE_TRANSITIONS = Counter("journey_stage_transitions", "Journey stage transitions, by stage entered.", ["to_stage"])
IDENTITY_LINKS = Counter(
    "journey_identity_links", "Anonymous ids linked to customers, by kind (link, conflict).", ["kind"]
)
EVENT_TIME_LAG = Histogram(
    "journey_event_time_lag_seconds",
    "Processing time minus event time at stage 2.",
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400),
)
BATCH_SECONDS = Histogram(
    "journey_batch_seconds", "Time to process one batch, by stage.", ["stage"], buckets=(0.005, 0.02, 0.1, 0.5, 1, 5)
)
FRICTION_SIGNALS = Counter(
    "journey_friction_signals", "Friction signals detected, by kind and severity.", ["kind", "severity"]
)
ABANDONMENTS = Counter("journey_abandonments", "Abandoned flows, by flow and the last step reached.", ["flow", "step"])
RECOVERIES = Counter("journey_abandonments_recovered", "Abandoned flows completed later, by flow.", ["flow"])
OFFSET_GAPS = Counter(
    "journey_offset_gaps",
    "Offsets jumped over when reading an input topic: records delivered out of order, or lost.",
    ["topic"],
)
STATE_ERRORS = Counter(
    "journey_state_errors", "Stored states that could not be read (another format) and were started afresh.", ["table"]
)
STATE_BYTES = Gauge(
    "journey_state_bytes",
    "State this worker holds, by table (its partitions; RocksDB's live-data estimate).",
    ["table"],
)
ERASURES = Counter(
    "journey_erasures",
    "Right-to-erasure requests applied, by stage (ingest: keys; journeys: journey states).",
    ["stage"],
)
WATERMARK = Gauge("journey_watermark_seconds", "Event-time watermark of a stage-2 partition.", ["partition"])
CONSUMER_LAG = Gauge(
    "journey_consumer_lag",
    "Records waiting for a consumer group: stages (the stream stages' input topics) or sink (the journey.* topics).",
    ["consumer"],
)


def export_zero_series(flows: Iterable[str]) -> None:
    """Every signal kind and flow exported from start-up, at 0: alert baselines (rate over the hour
    before) exist before the first signal, so a kind's first spike can page."""
    for kind in SIGNAL_KINDS:
        for severity in SEVERITIES:
            FRICTION_SIGNALS.labels(kind, severity)
    for flow in flows:
        ABANDONMENTS.labels(flow, "")
    for topic in ("touchpoints", "touchpoints.stitched"):  # 0 until an offset is jumped: alerts see the series
        OFFSET_GAPS.labels(topic)

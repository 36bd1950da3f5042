"""The peer: this pipeline's core job written the way Quix Streams 3 is meant to be used.

validate (invalid → a dead-letter topic) → dedupe by event id and stitch anonymous → customer
(state per publisher key) → repartition by journey key (`group_by`) → 30-minute-gap session
windows with 5 minutes of grace in event time (`set_timestamp`, `session_window(...).final()`) →
sessions, and signup/checkout abandonments (a flow started in a session and not completed in it),
into ClickHouse through a `BatchingSink`.

Simpler than the product on purpose, as a team would first write it: no handoff of the anonymous
history into the customer's journey, no detector timers, no stage tracking. Runs in its own
environment (bench/peers/quix/.venv); nothing here is imported by the product.

    python job.py BOOTSTRAP TOPIC GROUP STATE_DIR CLICKHOUSE_DSN
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta

import clickhouse_connect
import orjson
from quixstreams import Application
from quixstreams.dataframe.windows import aggregations as agg
from quixstreams.sinks import BatchingSink, SinkBatch

REQUIRED = {"event_id", "occurred_at", "channel", "touchpoint", "source"}
FLOWS = {"signup": ("signup.started", "signup.completed"), "checkout": ("checkout.started", "checkout.completed")}
REMEMBERED_IDS = 200  # per publisher key, for dedupe

DDL = [
    "CREATE DATABASE IF NOT EXISTS peer",
    """CREATE TABLE IF NOT EXISTS peer.sessions (journey_key String, started_at DateTime64(3), ended_at DateTime64(3),
       event_count UInt32) ENGINE = ReplacingMergeTree ORDER BY (journey_key, started_at)""",
    """CREATE TABLE IF NOT EXISTS peer.signals (journey_key String, flow String, started_at DateTime64(3))
       ENGINE = ReplacingMergeTree ORDER BY (journey_key, flow, started_at)""",
]


def parse(raw: bytes) -> dict:
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"invalid": "not_json"}
    if not isinstance(event, dict):
        return {"invalid": "not_an_object"}
    if missing := REQUIRED - event.keys():
        return {"invalid": f"missing {sorted(missing)}"}
    if not (event.get("anonymous_id") or event.get("customer_id")):
        return {"invalid": "no identity"}
    try:
        occurred = datetime.fromisoformat(event["occurred_at"])
    except (TypeError, ValueError):
        return {"invalid": "occurred_at"}
    if occurred.tzinfo is None:
        return {"invalid": "occurred_at without offset"}
    event["ts"] = int(occurred.timestamp() * 1000)
    return event


def dedupe_and_stitch(event: dict, state) -> dict | None:  # noqa: ANN001 - quixstreams State
    seen = state.get("seen", [])
    if event["event_id"] in seen:
        return None
    seen.append(event["event_id"])
    state.set("seen", seen[-REMEMBERED_IDS:])
    if event.get("customer_id") and event.get("anonymous_id"):
        state.set("customer", event["customer_id"])
    customer = event.get("customer_id") or state.get("customer")
    event["journey_key"] = customer or f"anon:{event['anonymous_id']}"
    return event


def abandonments(session: dict) -> list[dict]:
    touchpoints = set(session["touchpoints"])
    return [{"journey_key": session["journey_key"], "flow": flow, "started_at": session["start"]}
            for flow, (start, complete) in FLOWS.items() if start in touchpoints and complete not in touchpoints]  # fmt: skip


class ClickHouseSink(BatchingSink):
    def __init__(self, dsn: str, table: str, columns: list[str]) -> None:
        super().__init__()
        self.dsn, self.table, self.columns = dsn, table, columns
        self.client = None

    def setup(self) -> None:
        self.client = clickhouse_connect.get_client(dsn=self.dsn)
        for statement in DDL:
            self.client.command(statement)

    def write(self, batch: SinkBatch) -> None:
        rows = [[item.value[c] for c in self.columns] for item in batch]
        for row in rows:
            for i, c in enumerate(self.columns):
                if c in ("started_at", "ended_at"):
                    row[i] = datetime.fromtimestamp(row[i] / 1000)
        self.client.insert(self.table, rows, column_names=self.columns)


def not_logged(*_: object) -> bool:
    """Late records are dropped by the window (counted by Quix); logging each would cost more than it."""
    return False


def main(bootstrap: str, topic: str, group: str, state_dir: str, dsn: str) -> None:
    app = Application(broker_address=bootstrap, consumer_group=group, auto_offset_reset="earliest",
                      state_dir=state_dir, loglevel="WARNING")  # fmt: skip
    touchpoints = app.topic(topic, key_deserializer="str", value_deserializer="bytes")
    dead_letters = app.topic(f"{topic}.peer-dead-letters", value_serializer="json")

    sdf = app.dataframe(touchpoints).apply(parse)
    sdf.filter(lambda event: "invalid" in event).to_topic(dead_letters)
    sdf = sdf.filter(lambda event: "invalid" not in event)
    sdf = sdf.apply(dedupe_and_stitch, stateful=True).filter(lambda event: event is not None)
    sdf = sdf.group_by(lambda event: event["journey_key"], name="journey")
    sdf = sdf.set_timestamp(lambda event, key, timestamp, headers: event["ts"])
    sessions = (
        sdf.session_window(inactivity_gap_ms=timedelta(minutes=30), grace_ms=timedelta(minutes=5),
                            on_late=not_logged)
        .agg(event_count=agg.Count(), touchpoints=agg.Collect("touchpoint"))
        .final(closing_strategy="partition")
    )
    sessions = sessions.apply(lambda s, key, timestamp, headers: {**s, "journey_key": key}, metadata=True)
    sessions.apply(lambda s: {"journey_key": s["journey_key"], "started_at": s["start"], "ended_at": s["end"],
                              "event_count": s["event_count"]}).sink(
        ClickHouseSink(dsn, "peer.sessions", ["journey_key", "started_at", "ended_at", "event_count"]))  # fmt: skip
    sessions.apply(abandonments, expand=True).sink(
        ClickHouseSink(dsn, "peer.signals", ["journey_key", "flow", "started_at"]))
    app.run()


if __name__ == "__main__":
    main(*sys.argv[1:6])

"""`journey demo`: the first thing a new user runs, on the embedded default.

Brings up the local broker, creates the topics, starts the stream worker, publishes scripted
multi-channel journeys through the SDK (anonymous ad click → pricing → signup → identify →
onboarding → support → CSAT) and shows what came out: stitched sessions, stage transitions and
one journey's live state. ClickHouse, friction signals and the report join it as they land.
"""

from __future__ import annotations

import time
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

from journey.config import Settings
from journey.localstack.kafka import LocalKafka, StackError
from journey.publisher import TouchpointPublisher
from journey.samples import sample_journey
from journey.topic_reader import read_topic
from journey.topics import JOURNEY_FRICTION, JOURNEY_SESSIONS, JOURNEY_STAGES, create_topics
from journey.worker_process import WorkerProcess


def read_records(settings: Settings, topic: str, timeout_s: float) -> list[dict]:
    """Every record of a topic so far, decoded (reads until the timeout: the demo cannot know how many)."""
    return [orjson.loads(m.value()) for m in read_topic(settings, topic, expected=10**9, timeout_s=timeout_s)]


def run_demo(settings: Settings, customers: int, console: Console) -> int:
    try:
        LocalKafka(settings.stack).up()
    except StackError as error:
        console.print(f"[red]{error}[/red]")
        return 1
    report = create_topics(settings)
    console.print(f"topics: {len(report.created)} created, {len(report.existing)} already there")

    worker = WorkerProcess(settings, Path(".journey/demo").resolve(), settings.worker.web_port)
    console.print(f"starting the stream worker (log: {worker.log_file}) …")
    worker.start()
    try:
        # A fresh run id keeps re-runs apart: the broker keeps earlier runs' data.
        run = int(time.time()) % 100_000
        events = [e for seed in range(customers) for e in sample_journey(run * 1000 + seed)]
        started = time.monotonic()
        with TouchpointPublisher(settings) as publisher:
            for event in events:
                publisher.publish(event)
        console.print(f"published {len(events)} events of {customers} journeys in {time.monotonic() - started:.2f}s")

        mine = {f"cust-{run * 1000 + seed:06d}" for seed in range(customers)}
        sessions = [s for s in read_records(settings, settings.topics.name(JOURNEY_SESSIONS), 20) if s["journey_key"] in mine]
        stages = [s for s in read_records(settings, settings.topics.name(JOURNEY_STAGES), 5)
                  if s["journey_key"].split(":")[-1].replace("anon", "cust") in mine]  # fmt: skip
        signals = [s for s in read_records(settings, settings.topics.name(JOURNEY_FRICTION), 5) if s["journey_key"] in mine]
        show(console, sessions, stages, worker.get(f"/journeys/{sorted(mine)[0]}/"))
        show_friction(console, signals)
        console.print(f"live views while the worker runs: http://127.0.0.1:{worker.web_port}/journeys/<journey_key>/, "
                      f"/metrics/ — the broker keeps running: `journey stack status|down`.")  # fmt: skip
        return 0 if len(sessions) >= customers else 1
    finally:
        worker.stop()


def show(console: Console, sessions: list[dict], stages: list[dict], live: dict) -> None:
    table = Table(title=f"Closed sessions ({len(sessions)}; each journey's last session stays open until it goes quiet)")
    for column in ("journey", "started", "events", "channels", "path", "stages"):
        table.add_column(column, no_wrap=True)
    for s in sorted(sessions, key=lambda s: s["journey_key"])[:6]:
        path = s["path"][0] if len(s["path"]) == 1 else f"{s['path'][0]} … {s['path'][-1]}"
        reached = " → ".join(s["stages"]) if len(s["stages"]) < 3 else f"{s['stages'][0]} → … → {s['stages'][-1]}"
        table.add_row(s["journey_key"], s["started_at"][5:16].replace("T", " "), str(s["event_count"]),
                      ",".join(s["channels"]), path, reached)  # fmt: skip
    console.print(table)
    moves = Table(title="Stage transitions (anonymous history continues under the customer)")
    for column in ("journey", "from", "to", "at"):
        moves.add_column(column)
    for s in sorted(stages, key=lambda s: (s["journey_key"][-6:], s["at"]))[:8]:
        moves.add_row(s["journey_key"], str(s["from_stage"]), s["to_stage"], s["at"][:16])
    console.print(moves)
    console.print(f"live state of {live['journey_key']}: stage {live['current_stage']}, {live['events']} events, "
                  f"absorbed {live['absorbed_from']}, open session path {live['open_sessions'][0]['path'] if live['open_sessions'] else []}")  # fmt: skip


def show_friction(console: Console, signals: list[dict]) -> None:
    table = Table(title=f"Friction signals ({len(signals)}; timer-driven ones wait for event time to pass)")
    for column in ("kind", "severity", "signals", "example evidence"):
        table.add_column(column)
    by_kind: dict[tuple[str, str], list[dict]] = {}
    for signal in signals:
        by_kind.setdefault((signal["kind"], signal["severity"]), []).append(signal)
    for (kind, severity), found in sorted(by_kind.items()):
        details = found[0]["details"]
        example = ", ".join(f"{k}={v}" for k, v in details.items() if not isinstance(v, list | dict))[:60]
        table.add_row(kind, severity, str(len(found)), example)
    console.print(table)

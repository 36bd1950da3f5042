"""`make bench`: every benchmark in one run, side by side on the same topic and machine, written
to docs/benchmarks.md (between the side-by-side markers) and printed.

    python -m bench.run_all [--events 300000] [--partitions 6] [--skip peer,workers] [--no-write]

One broker; the simulator's records (seeded, fixed end) pre-filled into a touchpoints topic before
anything reads it. Each pipeline run gets a topic prefix of its own (its own copy of the input, its
own journey.* topics, groups and state), so no run reads another's output.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bench import limits, live, peer, pipeline, pure_core, sink_throughput, state_size
from bench.broker import bench_broker
from bench.doc_block import write_block
from bench.prefill import prefill
from bench.workload import simulated_records, with_poison
from journey.config import Settings, TopicSettings, WorkerSettings
from journey.topics import TOUCHPOINTS, create_topics

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
POISON = 10_000  # bad records mixed into the input of the poison run
BEGIN, END = "<!-- side-by-side: begin (bench/run_all.py writes this) -->", "<!-- side-by-side: end -->"


def own_copy(settings: Settings, records: list) -> Settings:
    """Settings with a topic prefix and app id of their own, the input pre-filled there."""
    tag = uuid.uuid4().hex[:6]
    mine = settings.model_copy(update={
        "topics": TopicSettings(prefix=f"b{tag}.", partitions=settings.topics.partitions),
        "worker": WorkerSettings(app_id=f"bench-{tag}"),
    })  # fmt: skip
    create_topics(mine)
    prefill(mine, records)
    return mine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument(
        "--skip", default="", help="comma-separated: limits,pure,run,poison,workers,peer,sink,live,state"
    )
    parser.add_argument("--live-seconds", type=float, default=600, help="the live run at half the measured rate")
    parser.add_argument(
        "--live-rate", type=float, default=None, help="events/s of the live run (default: half of `journey run`'s)"
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    rows: list[tuple[str, str, str]] = []  # (what, rate, notes)
    started = time.perf_counter()
    records = simulated_records(args.events)
    n = len(records)
    print(f"bench: {n:,} simulated records ({time.perf_counter() - started:.1f}s to generate)", flush=True)

    def add(what: str, rate: float, unit: str = "events/s", notes: str = "") -> None:
        rows.append((what, f"{rate:,.0f} {unit}", notes))
        print(f"  {what}: {rate:,.0f} {unit} {notes}", flush=True)

    def run_note(run: pipeline.PipelineRun) -> str:
        return (
            f"{run.seconds:.1f} s, {run.cpu_s / n * 1e6:,.0f} CPU s per million, peak RSS {run.peak_rss_mib:,.0f} MiB"
        )

    with bench_broker(args.partitions) as (settings, workdir):
        base = own_copy(settings, records)
        topic = base.topics.name(TOUCHPOINTS)
        if "limits" not in skip:
            add(
                "limit: confluent-kafka consume(1000), no decoding",
                limits.confluent_consume(base, topic, n, decode=False),
                "msg/s",
            )
            add("limit: confluent-kafka + orjson.loads", limits.confluent_consume(base, topic, n, decode=True), "msg/s")
            bare = limits.faust_bare_agent(base, topic, n)
            add("limit: bare Faust agent (raw values, no work)", bare, "msg/s")
        else:
            bare = None
        live_rate = args.live_rate
        if "run" not in skip:
            run = pipeline.journey_run(own_copy(settings, records), workdir / "run")
            ratio = f"; {run.rate(n) / bare:.1%} of the bare Faust agent" if bare else ""
            add(
                "this pipeline: `journey run` (stages + sink, embedded ClickHouse)",
                run.rate(n),
                notes=run_note(run) + ratio,
            )
            live_rate = live_rate or run.rate(n) / 2
            if "poison" not in skip:
                poisoned = with_poison(records, POISON)
                dirty = pipeline.journey_run(own_copy(settings, poisoned), workdir / "poison")
                add(f"this pipeline: `journey run`, {POISON:,} poison records of 13 kinds mixed in", dirty.rate(len(poisoned)),
                    "records/s", f"{dirty.seconds:.1f} s for {len(poisoned):,} records; "
                    f"{dirty.rate(len(poisoned)) / run.rate(n):.0%} of the clean run's rate")  # fmt: skip
        if "workers" not in skip:
            for count in (1, 2):
                run = pipeline.workers_and_sink(own_copy(settings, records), workdir / f"workers-{count}", count)
                add(f"this pipeline: {count} × `journey worker` + `journey sink`", run.rate(n), notes=run_note(run))
        if "live" not in skip and live_rate:
            mine = own_copy(settings, [])
            result = live.live_run(mine, records, live_rate, args.live_seconds, workdir / "live")
            latency = result.latency_ms
            add(f"this pipeline live: `journey run` at {live_rate:,.0f} events/s for {args.live_seconds:.0f} s, "
                "occurred_at → queryable", latency["p99"], "ms p99",
                f"p50 {latency['p50']:,.0f} ms, p95 {latency['p95']:,.0f} ms, max {latency['max']:,.0f} ms over "
                f"{result.rows:,} rows; {result.rss_note()}; {result.lag_note()}")  # fmt: skip
        if "peer" not in skip:
            run = peer.quix_job(base, topic, workdir / "peer")
            add("peer: Quix Streams 3.28 job (bench/peers/quix)", run.rate(n), notes=run_note(run))
    if "pure" not in skip:
        r = pure_core.run(customers=3000, batch=500)
        add("pure core in memory, stage 1 / stage 2 / both", r["both_eps"],
            notes=f"stage 1 {r['stage1_eps']:,.0f}, stage 2 {r['stage2_eps']:,.0f} events/s ({r['events']:,} events)")  # fmt: skip
    if "state" not in skip:
        for customers in (5_000, 50_000):  # two journey keys each: the anonymous visit and the customer
            r = state_size.run(customers)
            add(f"state per journey at {r['journeys']:,} journeys", r["mean"], "bytes",
                f"p99 {r['p99']:,} bytes; stage 1 {r['ingest_mean']:,.0f} bytes per publisher key")  # fmt: skip
    if "sink" not in skip:
        r = sink_throughput.run(customers=2000, partitions=args.partitions, max_rows=5000, copies=8)
        add(
            "`journey sink` alone into the embedded engine", r["rows_per_s"], "rows/s", f"{r['rows']:,} touchpoint rows"
        )

    table = "\n".join(
        [f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({_machine()}); {n:,} simulated "
         f"records on {args.partitions} partitions; `python -m bench.run_all --events {args.events}`.", "",
         "| what | rate | notes |", "| --- | --- | --- |"] + [f"| {w} | {r} | {x} |" for w, r, x in rows]
    )  # fmt: skip
    print(table)
    if not args.no_write:
        _write(table)


def _machine() -> str:
    return f"{os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB"


def _write(table: str) -> None:
    write_block(DOCS, BEGIN, END, table, "## Side by side (`make bench`)")


if __name__ == "__main__":
    main()

"""`make soak`: `journey run` for 10 minutes at half its maximum rate, with the simulator's
traffic (the demo's shape: personas, funnels, support, surveys, an incident, duplicates, late and
malformed records) sent live, and a verdict on whether memory, state and lag stay flat.

    python -m bench.soak [--seconds 600] [--rate EVENTS_PER_S] [--events 100000] [--no-write]

Without --rate the maximum is measured first (a backfill of the same records through `journey
run`). The records repeat under new event ids and the same customers, as live traffic from a
steady population would. What is kept per window then fills once and stays: events wait for
the watermark (`sessions.grace_minutes`, 5), so for that long the state grows by the rate times
the window, by design. Flat means: after that window, the mean of the second half of what is
left is within TOLERANCE of the first half's (RSS, state), and the stages' and sink's lag stays
under LAG_SECONDS of traffic. Exit 1 when it is not flat. The figures go to docs/reliability.md (between the soak markers).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import live, pipeline
from bench.broker import bench_broker
from bench.doc_block import write_block
from bench.run_all import own_copy
from bench.workload import simulated_records
from journey.config import Settings

TOLERANCE = 0.15
# Both stages remember up to `identity.dedupe_max_ids` event ids per key for 7 days of event time,
# which no 10-minute run reaches: with the default 512 a key's memory grows for the whole soak
# (~12 ids a round). The soak takes a cap its rounds reach in the first quarter, so what is left
# to grow is what should not; the default's plateau is the same arithmetic (docs/reliability.md).
SOAK_DEDUPE_MAX_IDS = 32
LAG_SECONDS = 10
DOCS = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
BEGIN, END = "<!-- soak: begin (bench/soak.py writes this) -->", "<!-- soak: end -->"


def settled_means(samples: list[tuple[float, float]], settled_s: float, seconds: float) -> tuple[float, float]:
    """Means of the two halves of the run after `settled_s`."""

    def mean(lo: float, hi: float) -> float:
        values = [v for at, v in samples if lo <= at < hi] or [0.0]
        return sum(values) / len(values)

    middle = (settled_s + seconds) / 2
    return mean(settled_s, middle), mean(middle, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--rate", type=float, default=None, help="events/s (default: half the measured maximum)")
    parser.add_argument("--events", type=int, default=100_000, help="simulated records, repeated")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/reliability.md alone")
    args = parser.parse_args()
    settled_s = Settings().sessions.grace_minutes * 60
    if args.seconds < 2 * settled_s:
        parser.error(f"--seconds must be at least twice the grace window ({settled_s:.0f} s) the state fills first")
    records = simulated_records(args.events)
    with bench_broker(6, prefix="journey-soak-") as (settings, workdir):
        rate = args.rate
        if rate is None:
            run = pipeline.journey_run(own_copy(settings, records), workdir / "max")
            rate = run.rate(len(records)) / 2
            print(f"soak: maximum {rate * 2:,.0f} events/s (a backfill of {len(records):,} records); soaking at {rate:,.0f}",
                  flush=True)  # fmt: skip
        result = live.live_run(own_copy(settings, []), records, rate, args.seconds, workdir / "soak", sample_s=10,
                               extra_env={"JOURNEY_IDENTITY__DEDUPE_MAX_IDS": str(SOAK_DEDUPE_MAX_IDS)})  # fmt: skip

    rss = settled_means(result.rss_mib, settled_s, args.seconds)
    state = settled_means(result.state_mib, settled_s, args.seconds)
    disk = settled_means(result.disk_mib, settled_s, args.seconds)
    late_lag = {name: max((lag.get(name, 0) for at, lag in result.lag if at >= settled_s), default=0)
                for name in ("stages", "sink")}  # fmt: skip
    verdicts = {
        "RSS": rss[1] <= rss[0] * (1 + TOLERANCE),
        "state": state[1] <= state[0] * (1 + TOLERANCE),
        "lag": all(records_behind <= rate * LAG_SECONDS for records_behind in late_lag.values()),
    }
    latency = result.latency_ms
    lines = [
        f"Soak {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: `journey run` at {rate:,.0f} events/s for {args.seconds:.0f} s "
        f"({result.rows:,} rows), the simulator's traffic sent live, `identity.dedupe_max_ids` {SOAK_DEDUPE_MAX_IDS}; "
        "`python -m bench.soak`.",
        "",
        f"| what | {settled_s:.0f}–{(settled_s + args.seconds) / 2:.0f} s | {(settled_s + args.seconds) / 2:.0f}–{args.seconds:.0f} s | flat? |",
        "| --- | --- | --- | --- |",
        f"| RSS (MiB, mean) | {rss[0]:,.0f} | {rss[1]:,.0f} | {'yes' if verdicts['RSS'] else 'NO'} |",
        f"| state (`journey_state_bytes`, MiB, mean) | {state[0]:,.1f} | {state[1]:,.1f} | {'yes' if verdicts['state'] else 'NO'} |",
        f"| state on disk (RocksDB directories, MiB, mean) | {disk[0]:,.1f} | {disk[1]:,.1f} | (compaction-dependent) |",
        f"| lag after {settled_s:.0f} s (records, max) | stages {late_lag['stages']:,} | sink {late_lag['sink']:,} | "
        f"{'yes' if verdicts['lag'] else 'NO'} (under {LAG_SECONDS} s of traffic) |",
        "",
        f"occurred_at → queryable: p50 {latency['p50']:,.0f} ms, p99 {latency['p99']:,.0f} ms, max {latency['max']:,.0f} ms. "
        f"Samples every 10 s: RSS {', '.join(f'{m:,.0f}' for _, m in result.rss_mib)} MiB; "
        f"state {', '.join(f'{m:,.0f}' for _, m in result.state_mib)} MiB.",
    ]  # fmt: skip
    table = "\n".join(lines)
    print(table)
    if not args.no_write:
        write_block(DOCS, BEGIN, END, table, "## Soak (`make soak`)")
    if not all(verdicts.values()):
        print("soak: NOT flat: " + ", ".join(name for name, ok in verdicts.items() if not ok), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    started = time.monotonic()
    main()

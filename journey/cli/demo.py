"""`journey demo`: the first thing a new user runs, on the embedded default.

Brings up the local broker, creates the topics, starts `journey run` (stream stages and sink into
the embedded ClickHouse, which it migrates), simulates customers (personas, funnels, support,
surveys, an incident breaking checkout's payment step for a few hours) and publishes them through
the SDK while showing what the pipeline does; then prints the report and writes report.html.
Ctrl-C stops cleanly (the worker drains to ClickHouse); the data stays for the next run.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from journey.cli.localstack.kafka import LocalKafka, StackError
from journey.cli.simulation.generate import Simulation, simulate
from journey.cli.simulation.send import send
from journey.cli.worker_process import WorkerProcess, metric_sample
from journey.config import Settings
from journey.reports.report import print_report, report_from_json
from journey.streams.lag import pipeline_lag
from journey.topics import create_topics

REFRESH_S = 1.0
QUIET_S = 8.0  # lag 0 this long after publishing: the pipeline has caught up (idle timers included)
REPORT_TIMEOUT_S = 120.0  # the report's queries over everything the demo wrote


@dataclass
class Progress:
    total: int
    sent: int = 0
    done_sending: bool = False
    stopping: threading.Event = field(default_factory=threading.Event)


def run_demo(settings: Settings, customers: int | None, console: Console, html: Path = Path("report.html"),
             drain_timeout_s: float = 600) -> int:  # fmt: skip
    if customers:
        settings = settings.model_copy(
            update={"simulation": settings.simulation.model_copy(update={"customers": customers})}
        )
    try:
        LocalKafka(settings.stack).up()
    except StackError as error:
        console.print(f"[red]{error}[/red]")
        return 1
    topics = create_topics(settings)
    console.print(f"topics: {len(topics.created)} created, {len(topics.existing)} already there")
    simulation = simulate(settings)
    first, *more = simulation.describe()
    for line in [f"simulating {first}", *more]:
        console.print(line, highlight=False)

    # The demo's backfill ends: once every partition was silent for one idle step, event time may
    # jump to the newest (worker.settle_after_s), so the report shows everything closed.
    worker = WorkerProcess(settings, Path(".journey/demo").resolve(), settings.worker.web_port, "run",
                           JOURNEY_WORKER__SETTLE_AFTER_S=str(settings.worker.source_idle_s))  # fmt: skip
    console.print(f"starting journey run: stages + sink into {settings.clickhouse.dsn} (log: {worker.log_file}) …")
    started = time.monotonic()
    worker.start()
    progress = Progress(len(simulation.records))
    sender = threading.Thread(target=_send, args=(settings, simulation, progress), daemon=True)
    try:
        sender.start()
        caught_up = _watch(console, settings, worker, progress, drain_timeout_s)
        window = {"since": simulation.start.isoformat(), "until": simulation.end.isoformat()}
        report = report_from_json(worker.get(f"/report.json?{urlencode(window)}", REPORT_TIMEOUT_S))
        print_report(report, console)
        if simulation.incident:  # shaded on the time charts
            t1, t2 = simulation.incident
            window |= {
                "mark_from": t1.isoformat(),
                "mark_to": t2.isoformat(),
                "mark_label": f"incident: {simulation.incident_label}",
            }
        html.write_bytes(worker.fetch(f"/report?{urlencode(window)}", REPORT_TIMEOUT_S))
        console.print(f"[bold]report.html[/bold] written to {html.resolve()}; live while `journey run` runs at "
                      f"http://127.0.0.1:{worker.web_port}/report")  # fmt: skip
        console.print(f"demo took {time.monotonic() - started:.0f}s; data kept in {settings.clickhouse.dsn} and the "
                      "broker (`journey stack down` stops it); run again for more")  # fmt: skip
        return 0 if caught_up else 1
    except KeyboardInterrupt:
        progress.stopping.set()
        console.print(
            "[yellow]stopping: the worker writes what it has to ClickHouse; data kept for the next run[/yellow]"
        )
        return 130
    finally:
        progress.stopping.set()
        sender.join(30)
        worker.stop()


def _send(settings: Settings, simulation: Simulation, progress: Progress) -> None:
    def advance(sent: int, total: int) -> None:
        progress.sent = sent

    send(settings, simulation, progress=advance, stop=progress.stopping.is_set)
    progress.done_sending = True


def _watch(console: Console, settings: Settings, worker: WorkerProcess, progress: Progress, timeout_s: float) -> bool:
    """Live figures until everything sent went through (or the timeout): True when caught up."""
    quiet_since, deadline = None, None
    with Live(console=console, refresh_per_second=2, transient=False) as live:
        while True:
            lag = pipeline_lag(settings)
            live.update(_panel(progress, worker.metrics_text(), lag))
            if progress.done_sending:
                deadline = deadline or time.monotonic() + timeout_s
                quiet = lag["stages"] == 0 and lag["sink"] == 0
                quiet_since = (quiet_since or time.monotonic()) if quiet else None
                if quiet_since and time.monotonic() - quiet_since >= QUIET_S:
                    return True
                if time.monotonic() > deadline:
                    console.print(
                        f"[yellow]not caught up after {timeout_s:.0f}s (lag {lag}); reporting what landed[/yellow]"
                    )
                    return False
            time.sleep(REFRESH_S)


def _panel(progress: Progress, metrics: str, lag: dict[str, int]) -> Group:
    figures = Table(title="Journey Telemetry demo", title_justify="left", show_header=False, min_width=60)
    figures.add_column("what")
    figures.add_column("how many", justify="right")
    events = {outcome: metric_sample(metrics, "journey_events_total", stage="ingest", outcome=outcome)
              for outcome in ("valid", "invalid", "duplicate", "misrouted")}  # fmt: skip
    figures.add_row("records published", f"{progress.sent:,} / {progress.total:,}")
    figures.add_row(
        "events processed (valid / duplicate / to DLQ)",
        f"{events['valid']:,.0f} / {events['duplicate']:,.0f} / {events['invalid'] + events['misrouted']:,.0f}",
    )
    figures.add_row(
        "late events (placed, flagged)",
        f"{metric_sample(metrics, 'journey_events_total', stage='journeys', outcome='late'):,.0f}",
    )
    figures.add_row("sessions opened / open now", f"{metric_sample(metrics, 'journey_sessions_opened_total'):,.0f} / "
                    f"{metric_sample(metrics, 'journey_active_sessions'):,.0f}")  # fmt: skip
    figures.add_row(
        "rows in ClickHouse", f"{sum(_by_label(metrics, 'journey_sink_rows_total', 'table').values()):,.0f}"
    )
    figures.add_row("lag (stages / sink)", f"{lag['stages']:,} / {lag['sink']:,}")
    signals = Table(title="Friction signals", title_justify="left", min_width=60)
    signals.add_column("kind")
    signals.add_column("signals", justify="right")
    for kind, count in sorted(
        _by_label(metrics, "journey_friction_signals_total", "kind").items(), key=lambda kv: -kv[1]
    ):
        if count:
            signals.add_row(kind, f"{count:,.0f}")
    return Group(figures, signals)


def _by_label(metrics: str, name: str, label: str) -> dict[str, float]:
    totals: dict[str, float] = {}
    for labels, value in re.findall(rf"^{re.escape(name)}\{{([^}}]*)\}} (\S+)$", metrics, re.M):
        match = re.search(rf'{label}="([^"]*)"', labels)
        if match:
            totals[match[1]] = totals.get(match[1], 0.0) + float(value)
    return totals

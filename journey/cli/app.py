"""The `journey` command line: one entry point, `--help` everywhere."""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

from journey.cli import errors
from journey.cli.errors import CommandError
from journey.cli.times import check_window, utc_time
from journey.config import ConfigError, Settings, load_settings, masked_dsn


class _App(typer.Typer):
    """The typer app inside the error boundary, however it is called (entry point, `app()` in tests)."""

    def __call__(self, *args: object, **kwargs: object) -> None:
        errors.run(lambda: super(_App, self).__call__(*args, **kwargs), clickhouse_dsn)


app = _App(
    name="journey",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain click text: usage errors as one `Error:` line, not a box; `[segments]` in help as written.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
stack_app = typer.Typer(
    rich_markup_mode=None, help="The local stack: a real single-node Kafka broker on loopback.", no_args_is_help=True
)
topics_app = typer.Typer(rich_markup_mode=None, help="Kafka topics of the pipeline.", no_args_is_help=True)
config_app = typer.Typer(rich_markup_mode=None, help="Inspect the effective configuration.", no_args_is_help=True)
dashboards_app = typer.Typer(
    rich_markup_mode=None, help="Grafana boards and alert rules, rendered from the settings.", no_args_is_help=True
)
dlq_app = typer.Typer(
    rich_markup_mode=None,
    help="The dead-letter topics: what was rejected, why, and from which source.",
    no_args_is_help=True,
)
app.add_typer(stack_app, name="stack")
app.add_typer(topics_app, name="topics")
app.add_typer(config_app, name="config")
app.add_typer(dashboards_app, name="dashboards")
app.add_typer(dlq_app, name="dlq")

console = Console(stderr=True, soft_wrap=True)  # one line stays one line (grep, logs)
PROGRESS_MIN_BYTES = 1 << 20  # show a progress bar for files of 1 MiB and more
_loaded: list[Settings] = []  # for the error boundary's messages (the DSN a failure concerns)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"journey {version('journey-telemetry')}")
        raise typer.Exit()


@app.callback()
def options(
    config_file: Annotated[
        Path | None,
        typer.Option("--config", metavar="FILE", help="the config file (default: ./journey.toml; = JOURNEY_CONFIG)"),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="tracebacks and librdkafka's log lines, for bug reports")
    ] = False,
    _: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """Journey Telemetry: customer touchpoints in, journeys, friction signals and CX metrics out.

    Exit codes: 0 done, 1 the command's own "no" (invalid lines, nothing known, stale files),
    2 usage, configuration, connection or file error, 3 a bug (--debug shows the traceback)."""
    errors.DEBUG = debug
    if not debug:  # the clients' own log lines (clickhouse-connect logs each failed request): the boundary says it
        import logging

        logging.getLogger("clickhouse_connect").setLevel(logging.CRITICAL)
    if config_file is not None:
        os.environ["JOURNEY_CONFIG"] = str(config_file)  # also for the processes a command starts


def settings() -> Settings:
    try:
        config = load_settings()
    except ConfigError as error:
        raise CommandError(errors.one_line(str(error))) from None
    if errors.DEBUG and "log_level" not in config.kafka.librdkafka_overrides:  # librdkafka's own lines back
        kafka = config.kafka.model_copy(
            update={"librdkafka_overrides": {**config.kafka.librdkafka_overrides, "log_level": 7}}
        )
        config = config.model_copy(update={"kafka": kafka})
    _loaded.append(config)
    return config


def clickhouse_dsn() -> str | None:
    return _loaded[-1].clickhouse.dsn if _loaded else None


def checked(config: Settings) -> Settings:
    """Stop at once, naming the setting, when the broker refuses the login or the TLS (instead
    of retrying forever) or does not answer within kafka.connect_timeout_s."""
    from journey.kafka_access import check_access

    check_access(config.kafka)
    return config


# -- stack -------------------------------------------------------------------------------------
def _local_kafka(secure: bool = False):
    from journey.cli.localstack.kafka import LocalKafka

    stack = settings().stack
    return LocalKafka(stack.model_copy(update={"secure": True}) if secure else stack)


def _stack_failed(error: Exception) -> CommandError:
    return CommandError(str(error))


@stack_app.command("up")
def stack_up(
    prometheus: Annotated[
        bool,
        typer.Option(help="also a local Prometheus scraping the worker and sink, with the alert rules of the settings"),
    ] = False,
    secure: Annotated[
        bool,
        typer.Option(
            help="SCRAM-SHA-512 over TLS (SASL_SSL), with a CA and users of its own "
            "(= stack.secure; fixed when the storage is first formatted)"
        ),
    ] = False,
) -> None:
    """Start the local Kafka broker (fetching its jars on first use) and wait until it answers."""
    from journey.cli.localstack.kafka import StackError
    from journey.cli.localstack.prometheus import LocalPrometheus

    try:
        broker = _local_kafka(secure)
        print(broker.up().describe())
        if broker.settings.secure:
            print(f"clients: `source {broker.client_env_file}` (SASL_SSL as {broker.settings.client_username!r}; "
                  "the file holds the password)")  # fmt: skip
        if prometheus:
            print(f"prometheus: {LocalPrometheus(settings()).up()} (alerts: /alerts)")
    except StackError as error:
        raise _stack_failed(error) from None


@stack_app.command("down")
def stack_down() -> None:
    """Stop the local Kafka broker (and Prometheus, if it runs); their data stays for the next `stack up`."""
    from journey.cli.localstack.prometheus import LocalPrometheus

    LocalPrometheus(settings()).down()
    _local_kafka().down()


@stack_app.command("status")
def stack_status() -> None:
    """Say whether the local broker runs and answers (exit 1 if not)."""
    status = _local_kafka().status()
    print(status.describe())
    if not (status.running and status.answering):
        raise typer.Exit(1)


# -- topics ------------------------------------------------------------------------------------
@topics_app.command("create")
def topics_create() -> None:
    """Create the pipeline's topics (idempotent; existing topics are left as they are)."""
    from journey.topics import create_topics

    report = create_topics(checked(settings()))
    for name in report.created:
        print(f"created  {name}")
    for name in report.existing:
        print(f"exists   {name}")
    for warning in report.warnings:
        console.print(f"[yellow]warning: {warning}[/yellow]")


# -- config ------------------------------------------------------------------------------------
@config_app.command("show")
def config_show() -> None:
    """Print the effective configuration as JSON (secrets masked)."""
    print(settings().model_dump_json(indent=2))


# -- publish -----------------------------------------------------------------------------------
@app.command("publish")
def publish(
    file: Annotated[Path, typer.Argument(help="JSON Lines file, or - for standard input", metavar="FILE")],
    rejects: Annotated[
        Path | None, typer.Option(help="also write invalid lines (with reasons) here as JSON Lines")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="validate only (offline): send nothing")] = False,
) -> None:
    """Validate a JSON Lines file of touchpoints (every line, offline, first), report the invalid
    ones, then publish the valid ones.

    Exits 1 when any line was invalid (the valid ones are published all the same), 2 when the
    file cannot be read or the broker or topic is not there."""
    from journey.cli.jsonl import check_lines, open_source, send_lines
    from journey.publisher import PublishError, TouchpointPublisher
    from journey.topics import TOUCHPOINTS

    config = settings()
    label = "<stdin>" if str(file) == "-" else str(file)
    started = time.monotonic()
    with open_source(file) as stream:
        summary = check_lines(stream, config.contract, datetime.now(UTC))
        _print_rejects(label, summary.rejected)
        if rejects is not None:
            _write_rejects(rejects, summary.rejected)
        if not dry_run and summary.valid:
            _require_topic(checked(config), config.topics.name(TOUCHPOINTS))
            stream.seek(0)
            size = stream.seek(0, os.SEEK_END)
            stream.seek(0)
            before = len(summary.rejected)
            try:
                with TouchpointPublisher(config.publisher) as publisher:
                    if size >= PROGRESS_MIN_BYTES:
                        columns = (*Progress.get_default_columns()[:1], BarColumn(), DownloadColumn(),
                                   TransferSpeedColumn())  # fmt: skip
                        with Progress(*columns, TimeRemainingColumn(), console=console) as progress:
                            task = progress.add_task(f"publishing {Path(label).name}", total=size)
                            send_lines(stream, publisher, summary, lambda n: progress.advance(task, n))
                    else:
                        send_lines(stream, publisher, summary)
            except PublishError as error:
                raise CommandError(f"delivery failed after {summary.published} event(s): {error}") from None
            if len(summary.rejected) > before:  # crossed a time limit between the passes
                _print_rejects(label, summary.rejected[before:])
                if rejects is not None:
                    _write_rejects(rejects, sorted(summary.rejected, key=lambda r: r.line_number))
    outcome = "valid (dry run: nothing sent)" if dry_run else f"published to {config.topics.name(TOUCHPOINTS)}"
    console.print(
        f"{summary.valid if dry_run else summary.published} {outcome}, {len(summary.rejected)} invalid, "
        f"{summary.blank} blank of {summary.lines} lines in {time.monotonic() - started:.1f}s",
        highlight=False,
    )
    if summary.rejected:
        raise typer.Exit(1)


def _print_rejects(label: str, rejected: list) -> None:
    for line in rejected:
        # Plain, unwrapped `file:line: reason: message` lines: editors and grep understand them.
        print(f"{label}:{line.line_number}: {line.reason}: {line.message}", file=sys.stderr)


def _write_rejects(path: Path, rejected: list) -> None:
    path.write_bytes(b"".join(r.as_json() + b"\n" for r in rejected))


def _require_topic(config: Settings, topic: str) -> None:
    from confluent_kafka.admin import AdminClient

    # all topics: asking for one by name may auto-create it on a broker that allows that
    found = AdminClient(config.kafka.confluent_config()).list_topics(timeout=config.kafka.connect_timeout_s)
    metadata = found.topics.get(topic)
    if metadata is None or metadata.error is not None:
        raise CommandError(f"topic {topic!r} does not exist on {config.kafka.bootstrap_servers}: run "
                           "`journey topics create` (or check topics.prefix, JOURNEY_TOPICS__PREFIX)")  # fmt: skip


# -- migrate -----------------------------------------------------------------------------------
@app.command("migrate")
def migrate_command() -> None:
    """Create or update the ClickHouse schema (idempotent; refuses if an applied file changed); on a
    server, also the writer and reader users when clickhouse.writer_user / reader_user are set."""
    from journey.sinks.access import AccessNotSupported, apply_access
    from journey.sinks.access import configured as access_configured
    from journey.sinks.clickhouse_client import connect
    from journey.sinks.migrations import MigrationError, migrate

    config = settings()
    try:
        client = connect(config.clickhouse)
        done = migrate(client, config.clickhouse)
    except MigrationError as error:  # an applied file changed: the command's own refusal
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    print(f"applied {', '.join(done)}" if done else f"schema of {config.clickhouse.database} is up to date")
    if access_configured(config.clickhouse):
        try:
            for shown in apply_access(client, config.clickhouse):
                print(f"access: {shown}")
        except AccessNotSupported as error:
            console.print(f"[yellow]access: {error}[/yellow]")


# -- sink --------------------------------------------------------------------------------------
@app.command("sink")
def sink_command() -> None:
    """Write the journey.* topics into ClickHouse (resumes past what ClickHouse holds; Ctrl-C flushes)."""
    import logging
    import signal

    from prometheus_client import start_http_server

    from journey.cli.gc_tuning import tune_garbage_collector
    from journey.reports.audit import PeriodicAudit
    from journey.sinks.sink import ClickHouseSink

    config = checked(settings())  # before the metrics port: a broker that is not there stops it at once
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] [%(levelname)s] %(name)s: %(message)s")
    tune_garbage_collector(config.worker.gc_threshold)
    start_http_server(config.sink.metrics_port, addr=config.sink.metrics_host)
    sink = ClickHouseSink(config)
    signal.signal(signal.SIGTERM, lambda *_: sink.stop())
    signal.signal(signal.SIGINT, lambda *_: sink.stop())
    print(f"sink ready: metrics on {config.sink.metrics_host}:{config.sink.metrics_port}/metrics", flush=True)
    auditor = PeriodicAudit(config)  # do the numbers add up: gauges beside the sink's
    auditor.start()
    try:
        sink.run()
    finally:
        auditor.stop()


# -- dead letters ------------------------------------------------------------------------------
@dlq_app.command("inspect")
def dlq_inspect(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document on stdout instead of tables")] = False,
    samples: Annotated[int, typer.Option(min=0, help="sample records shown per reason")] = 3,
) -> None:
    """Counts by reason, source and hour, and samples, of both dead-letter topics.

    Stage 1's topic holds invalid events, the sink's the rows ClickHouse refused; both are read
    from their start to their end as of now, and nothing is committed."""
    import orjson
    from rich.table import Table

    from journey.cli.dlq import inspect

    summaries = inspect(checked(settings()), samples)
    if as_json:
        print(orjson.dumps({"topics": [s.to_json() for s in summaries]}, option=orjson.OPT_INDENT_2).decode())
        return
    out = Console()
    for summary in summaries:
        out.rule(f"{summary.topic}: {summary.total:,} records")
        if not summary.total:
            continue
        for title, counts in (
            ("reason", summary.by_reason),
            ("source", summary.by_source),
            ("hour (UTC)", summary.by_hour),
        ):
            table = Table(title=f"by {title}", title_justify="left")
            table.add_column(title)
            table.add_column("records", justify="right")
            rows = sorted(counts.items()) if title.startswith("hour") else counts.most_common()
            for value, count in rows:
                table.add_row(value, f"{count:,}")
            out.print(table)
        table = Table(title="samples", title_justify="left")
        for column in ("reason", "partition/offset", "message", "original (start)"):
            table.add_column(column, overflow="fold")
        for reason, letters in summary.samples.items():
            for letter in letters:
                table.add_row(reason, f"{letter.partition}/{letter.offset}", letter.message,
                              letter.original[:120].decode(errors="replace"))  # fmt: skip
        out.print(table)


@dlq_app.command("replay")
def dlq_replay(
    reason: Annotated[
        str | None,
        typer.Option(
            help="only dead letters of this reason: a code (schema) or as "
            '`journey dlq inspect` shows it ("schema (channel)")'
        ),
    ] = None,
    source: Annotated[str | None, typer.Option(help="only dead letters from this publishing service")] = None,
    fix: Annotated[
        str | None,
        typer.Option(
            help="a Python expression over `event` (the decoded original) giving the "
            'corrected event, e.g. \'{**event, "channel": "web"}\''
        ),
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="replay the events of this corrected JSON Lines file instead of the dead letters",
        ),
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False,
            help="write the selected originals here as JSON Lines (to correct by hand, then --from-file) and stop",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say how many would now pass, publish nothing")] = False,
) -> None:
    """Publish stage 1's dead-lettered events again, optionally corrected, after a publisher's fix.

    Every candidate is checked as stage 1 will check it; those that would still fail are left
    where they are, counted by reason. Replayed events keep their event_id, so stage 1 drops any
    that already went through (a second replay, a service that re-sent them) as duplicates."""
    from rich.table import Table

    from journey.cli.dlq import stage_letter
    from journey.cli.dlq_replay import FixError, compile_fix, export_line, plan_replay
    from journey.cli.topic_reader import read_to_end
    from journey.publisher import PublishError, TouchpointPublisher
    from journey.topics import DEAD_LETTER, TOUCHPOINTS

    config = settings()
    out = Console()  # the result on stdout; errors on stderr
    if from_file is not None:
        originals = [line.rstrip(b"\r") for line in from_file.read_bytes().splitlines() if line.strip()]
        origin = str(from_file)
    else:
        letters = [stage_letter(m) for m in read_to_end(checked(config), config.topics.name(DEAD_LETTER))]
        selected = [letter for letter in letters
                    if (reason is None or letter.reason == reason or letter.reason.startswith(f"{reason} ("))
                    and (source is None or letter.source == source)]  # fmt: skip
        originals = [letter.original for letter in selected]
        origin = f"{config.topics.name(DEAD_LETTER)} ({len(selected):,} of {len(letters):,} dead letters selected)"
    if export is not None:
        export.write_bytes(b"".join(export_line(original) + b"\n" for original in originals))
        out.print(f"wrote {len(originals):,} originals to {export}")
        return
    try:
        plan = plan_replay(originals, compile_fix(fix) if fix else None, datetime.now(UTC), config.contract)
    except FixError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    out.print(f"{origin}: {plan.candidates:,} candidates, [green]{len(plan.passing):,} would pass now[/green]")
    if plan.failing:
        table = Table(title="would still fail (left as they are)", title_justify="left")
        for column in ("why", "records", "example"):
            table.add_column(column, overflow="fold")
        for why, count in plan.failing.most_common():
            table.add_row(why, f"{count:,}", plan.examples[why][:200])
        out.print(table)
    if dry_run or not plan.passing:
        return
    try:
        with TouchpointPublisher(checked(config).publisher) as publisher:
            for touchpoint in plan.passing:
                publisher.publish(touchpoint)
    except PublishError as error:
        raise CommandError(f"delivery failed: {error}") from None
    out.print(f"replayed {len(plan.passing):,} events to {config.topics.name(TOUCHPOINTS)}")


# The window of `map` and `report`, declared once.
SinceOption = Annotated[
    datetime | None,
    typer.Option(
        parser=utc_time,
        metavar="TIME",
        help="window start (default: the data's first minute); ISO-8601, an offset is converted, none means UTC",
    ),
]
UntilOption = Annotated[
    datetime | None,
    typer.Option(parser=utc_time, metavar="TIME", help="window end, exclusive (default: after the data's last)"),
]


# -- journey map -------------------------------------------------------------------------------
@app.command("map")
def map_command(
    segment: Annotated[str | None, typer.Option(help="a [segments] name (default: segments.default)")] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="show only this segment value (repeatable: side by side)")
    ] = None,
    vs_since: Annotated[
        datetime | None, typer.Option(parser=utc_time, metavar="TIME", help="compare with the window starting here")
    ] = None,
    vs_until: Annotated[
        datetime | None, typer.Option(parser=utc_time, metavar="TIME", help="… and ending here")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
) -> None:
    """The journey map: for each stage, per segment, who reached it, conversion, time in stage,
    drop-out, what customers do and where, pain points, sentiment and the biggest opportunity.
    `--only a --only b` puts two segments side by side; `--vs-since/--vs-until` a second window.

    While `journey run` holds the embedded engine, the map comes from its web server."""
    import orjson

    from journey.reports.journey_map import build_map, map_from_json, print_map

    check_window(since, until)
    check_window(vs_since, vs_until, "--vs-since/--vs-until")
    config = settings()
    if segment is not None and segment not in config.segments.definitions:
        raise typer.BadParameter(
            f"unknown segment {segment!r}; [segments] has {', '.join(sorted(config.segments.definitions))}",
            param_hint="--segment",
        )
    windows = [(since, until)] + ([(vs_since, vs_until)] if vs_since or vs_until else [])
    maps = []
    for start, end in windows:
        query = {"segment": segment, "since": start and start.isoformat(), "until": end and end.isoformat()}
        maps.append(_read_side(config, "map.json", query, map_from_json,
                               lambda client, s=start, e=end: build_map(client, config, segment, s, e)))  # fmt: skip
    if not any(m.segments for m in maps):
        empty = all(m.start.year < 1980 for m in maps)  # no data: the window defaults to the epoch
        console.print(f"no touchpoints in ClickHouse ({masked_dsn(config.clickhouse.dsn)}) yet: publish events and run "
                      "the pipeline (`journey run`)" if empty else "no customers in this window", highlight=False)  # fmt: skip
        raise typer.Exit(1)
    if json_output:
        print(orjson.dumps([m.as_json() for m in maps] if len(maps) > 1 else maps[0].as_json(),
                           option=orjson.OPT_INDENT_2).decode())  # fmt: skip
        return
    out = Console(width=max(Console().width, 160))
    for position, journey_map in enumerate(maps):
        print_map(journey_map, out, only, label=" (compared window)" if position else "")


@app.command("customer")
def customer_command(
    customer_id: Annotated[str, typer.Argument(help="the customer id, as the publishers send it")],
    json_output: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
) -> None:
    """One customer's whole journey across channels: linked anonymous ids, stage changes, sessions
    (path, channels), friction signals with their evidence, survey answers, the timeline, and what
    is open right now (from the running worker's live state). Exit 1 when nothing is known of them."""
    import urllib.parse
    import urllib.request

    import orjson

    from journey.reports.customer_journey import build_customer, customer_from_json, print_customer

    config = settings()
    quoted = urllib.parse.quote(customer_id, safe="")

    def live() -> dict | None:
        try:
            url = f"http://127.0.0.1:{config.worker.web_port}/journeys/{quoted}"
            with urllib.request.urlopen(url, timeout=10) as response:
                return orjson.loads(response.read())
        except OSError:
            return None  # no worker here, or it does not hold that journey's partition

    journey = _read_side(config, f"customers/{quoted}.json", {}, customer_from_json,
                         lambda client: build_customer(client, config, customer_id, live()))  # fmt: skip
    if json_output:
        print(orjson.dumps(journey.as_json(), option=orjson.OPT_INDENT_2, default=str).decode())
    elif journey.found:  # not six empty tables for someone unknown
        print_customer(journey, Console(width=max(Console().width, 160)))
    if not journey.found:
        console.print(f"nothing is known of customer {customer_id!r} (no touchpoints, sessions or identity links)",
                      highlight=False)  # fmt: skip
        raise typer.Exit(1)


def _read_side(config: Settings, path: str, query: dict, from_json, build):
    """Run `build(client)` on ClickHouse as the reader, or, while `journey run` holds the embedded
    engine, GET its web server's `path` (with `query`) and read it with `from_json`."""
    import urllib.parse
    import urllib.request

    import orjson

    from journey.reports.report import engine_in_use
    from journey.sinks.clickhouse_client import connect

    if engine_in_use(config.clickhouse.dsn):
        url = f"http://127.0.0.1:{config.worker.web_port}/{path}"
        given = {k: v for k, v in query.items() if v is not None}
        if given:
            url += "?" + urllib.parse.urlencode(given)
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                return from_json(orjson.loads(response.read()))
        except OSError as error:
            raise _engine_busy(config, url, error) from None
    _require_data(config)
    try:
        return build(connect(config.clickhouse, "reader"))
    except Exception as error:  # noqa: BLE001 - say what went wrong, in one line
        raise _cannot_read(config, error) from None


def _require_data(config: Settings) -> None:
    """A reader does not create an embedded engine's folder (where it would then find no database)."""
    from journey.sinks.clickhouse_client import embedded_path

    path = embedded_path(config.clickhouse.dsn)
    if path is not None and not path.exists():
        raise CommandError(f"no ClickHouse data at {path} (clickhouse.dsn): run `journey run` (or `journey migrate`) "
                           "first, or point --config / JOURNEY_CONFIG at the project's journey.toml")  # fmt: skip


def _engine_busy(config: Settings, url: str, error: OSError) -> CommandError:
    return CommandError(f"the embedded ClickHouse at {config.clickhouse.dsn} is open in another process, and "
                        f"{url} did not answer ({error}); stop that process or ask its web server")  # fmt: skip


def _cannot_read(config: Settings, error: Exception) -> CommandError:
    text = " ".join(str(error).split())
    hint = "run `journey migrate` (or `journey run`) first" if "UNKNOWN_DATABASE" in text else \
        "check clickhouse.dsn (JOURNEY_CLICKHOUSE__DSN) and that ClickHouse runs"  # fmt: skip
    return CommandError(f"cannot read ClickHouse ({masked_dsn(config.clickhouse.dsn)}): {text[:300]}: {hint}")


# -- erase -------------------------------------------------------------------------------------
@app.command("erase")
def erase_command(
    customer_id: Annotated[str | None, typer.Argument(help="the customer id, as the publishers send it")] = None,
    anonymous_id: Annotated[
        list[str] | None,
        typer.Option(
            "--anonymous-id",
            help="an anonymous id of the person "
            "(repeatable; the customer's linked ids are found in journey.identities)",
        ),
    ] = None,
    wait: Annotated[bool, typer.Option(help="wait until the stages and the sink applied it, then report")] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the pipeline")] = 600.0,
    json_output: Annotated[bool, typer.Option("--json", help="print JSON instead of text")] = False,
) -> None:
    """Right to erasure: delete a person from the pipeline's state, identity links and every
    ClickHouse table; their later events start a fresh journey (docs/operations.md, Security)."""
    import orjson

    from journey.cli.erase import plan, publish, wait_until_applied
    from journey.reports.erasures import audit_rows

    if customer_id is None and not anonymous_id:
        console.print("[red]name a customer id, or --anonymous-id for a visitor who never identified[/red]")
        raise typer.Exit(2)
    config = checked(settings())
    out = Console(stderr=True)
    erasure = plan(config, customer_id, anonymous_id or [])
    out.print(f"erasure {erasure.request_id}: {len(erasure.requests)} request(s): "
              f"{'the customer id and ' if customer_id else ''}{len(erasure.anonymous_ids)} anonymous id(s)")  # fmt: skip
    try:
        publish(config, erasure)
    except Exception as error:  # noqa: BLE001 - a delivery or access problem, in one line
        raise CommandError(f"could not publish the erasure requests: {error}") from None
    result: dict = {"request_id": erasure.request_id, "anonymous_ids": len(erasure.anonymous_ids), "applied": False}
    if wait:
        result["applied"] = wait_until_applied(config, timeout, lambda text: out.print(text))
        if not result["applied"]:
            console.print(f"[red]the pipeline did not apply it within {timeout:.0f}s (is a worker and a sink "
                          "running?); the requests stay in the topic and are applied when they run[/red]")  # fmt: skip
            raise typer.Exit(1)
        result["removed"] = _read_side(
            config, f"erasures/{erasure.request_id}", {}, lambda data: data["removed"],
            lambda client: [{"table": t, "key_kind": k, "rows": n}
                            for t, k, n in audit_rows(client, config.clickhouse.database, erasure.request_id)],
        )  # fmt: skip
    if json_output:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
        return
    for row in result.get("removed", []):
        unit = "buckets rebuilt" if row["table"].endswith(("_per_minute", "_per_hour")) else "rows deleted"
        print(f"{row['table']:<24} {row['key_kind']:<10} {row['rows']:>8} {unit}")
    print("state and identity links: deleted in the changelogs (compaction drops them); raw events stay in the "
          "topics until their retention ends (topics.retention_hours, dlq_retention_hours)")  # fmt: skip


# -- report ------------------------------------------------------------------------------------
@app.command("report")
def report_command(
    since: SinceOption = None,
    until: UntilOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
    html: Annotated[Path | None, typer.Option(help="write report.html (charts, self-contained) here instead")] = None,
) -> None:
    """Print volume by stage and channel, sessions, stage transitions, funnels, friction, NPS/CSAT/CES,
    time to first value and churn: SQL on ClickHouse's rollups and tables (schemas/queries.py).

    While `journey run` holds the embedded engine, the report comes from its web server."""
    import urllib.request

    import orjson

    from journey.reports.report import build_report, engine_in_use, print_report, report_from_json
    from journey.reports.report_page import build_page
    from journey.sinks.clickhouse_client import connect

    check_window(since, until)
    if html is not None and not html.parent.is_dir():  # before the queries, not after
        raise CommandError(f"{html}: its folder {html.parent} does not exist")
    config = settings()
    start, end = since, until
    if engine_in_use(config.clickhouse.dsn):
        url = f"http://127.0.0.1:{config.worker.web_port}/{'report' if html else 'report.json'}"
        if start or end:
            url += "?" + "&".join(f"{k}={v.isoformat()}" for k, v in (("since", start), ("until", end)) if v)
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                body = response.read()
        except OSError as error:
            raise _engine_busy(config, url, error) from None
        page, report = (body.decode(), None) if html else (None, report_from_json(orjson.loads(body)))
    else:
        _require_data(config)
        try:
            client = connect(config.clickhouse, "reader")
            page = build_page(client, config, start, end) if html else None
            report = None if html else build_report(client, config, start, end)
        except Exception as error:  # noqa: BLE001 - say what went wrong, in one line
            raise _cannot_read(config, error) from None
    if html and page is not None:
        html.write_text(page)
        console.print(f"wrote {html}")
    elif report is not None and json_output:
        print(orjson.dumps(report.as_json(), option=orjson.OPT_INDENT_2).decode())
    elif report is not None:
        print_report(report, Console())


# -- worker / run ------------------------------------------------------------------------------
LoglevelOption = Annotated[str, typer.Option(help="crit, error, warn, info or debug")]


@app.command("worker")
def worker(loglevel: LoglevelOption = "warn") -> None:
    """Run the stream stages (ingest, journeys); scale out by running more with the same worker.app_id."""
    from journey.cli.gc_tuning import tune_garbage_collector
    from journey.streams.worker import JourneyWorker

    config = checked(settings())
    tune_garbage_collector(config.worker.gc_threshold)
    JourneyWorker(config).run(loglevel=loglevel)


@app.command("run")
def run_all(loglevel: LoglevelOption = "warn") -> None:
    """Run everything in one process: the stream stages and the ClickHouse sink (which migrates the
    schema first). The way to run on the embedded engine, which only one process may open.
    Ctrl-C stops cleanly: the sink catches up with the stages' output and flushes."""
    from journey.cli.gc_tuning import tune_garbage_collector
    from journey.reports.audit import PeriodicAudit
    from journey.streams.worker import JourneyWorker

    config = checked(settings())
    tune_garbage_collector(config.worker.gc_threshold)
    auditor = PeriodicAudit(config)  # do the numbers add up: gauges on the worker's /metrics
    auditor.start()
    try:
        JourneyWorker(config, with_sink=True).run(loglevel=loglevel)
    finally:
        auditor.stop()


# -- simulator ---------------------------------------------------------------------------------
@app.command("simulate")
def simulate_command(
    customers: Annotated[int | None, typer.Option(min=1, help="customers (default: simulation.customers)")] = None,
    days: Annotated[float | None, typer.Option(min=0.01, help="simulated days, ending now")] = None,
    seed: Annotated[int | None, typer.Option(help="same seed and end, same journeys")] = None,
    end: Annotated[
        datetime | None,
        typer.Option(parser=utc_time, metavar="TIME", help="the simulated span ends here (default now)"),
    ] = None,
    speed: Annotated[
        float | None, typer.Option(min=0, help="simulated seconds per wall second; 0 = as fast as possible")
    ] = None,
    incident: Annotated[bool, typer.Option(help="a broken step (simulation.incident) part of the time")] = True,
    jsonl: Annotated[Path | None, typer.Option(help="also write the records as JSON Lines here")] = None,
    publish: Annotated[bool, typer.Option(help="send to Kafka through the SDK")] = True,
) -> None:
    """Simulate customer journeys (personas, funnels, support, surveys, churn, an incident; some late,
    duplicate and malformed events) and publish them and/or write them as JSON Lines."""
    from journey.cli.simulation.generate import simulate
    from journey.cli.simulation.send import send, write_jsonl

    base = settings()
    chosen = {"customers": customers, "days": days, "seed": seed, "speed": speed,
              "end": end}  # fmt: skip
    overrides = {k: v for k, v in chosen.items() if v is not None}
    sim = base.simulation.model_copy(
        update={**overrides, "incident": base.simulation.incident.model_copy(update={"enabled": incident})}
    )
    configured = base.model_copy(update={"simulation": sim})
    simulation = simulate(configured)
    first, *more = simulation.describe()
    for line in [f"simulated {first}", *more]:
        console.print(line, highlight=False)
    if jsonl:
        console.print(f"wrote {write_jsonl(simulation, jsonl)} lines to {jsonl}")
    if publish:
        started = time.monotonic()
        sent = send(
            configured,
            simulation,
            progress=lambda done, total: console.print(f"  sent {done}/{total}", highlight=False),
        )
        console.print(f"published {sent} records in {time.monotonic() - started:.1f}s")


# -- dashboards and alert rules -----------------------------------------------------------------
@dashboards_app.command("write")
def dashboards_write(
    root: Annotated[Path, typer.Option(help="the project directory (grafana/ and deploy/ below it)")] = Path("."),
) -> None:
    """Render the Grafana boards, the Prometheus alert rules and the Grafana-managed alert rule from
    the settings ([alerts], [friction.flows], [clickhouse].database) into grafana/ and deploy/."""
    from journey.cli.dashboards.files import write

    written = write(settings(), root)
    for path in written:
        console.print(f"wrote {path}")
    console.print(f"{len(written)} file(s) changed" if written else "all files already current")


@dashboards_app.command("check")
def dashboards_check(root: Annotated[Path, typer.Option(help="the project directory")] = Path(".")) -> None:
    """Exit 1 when a generated file differs from what the settings render."""
    from journey.cli.dashboards.files import stale

    differing = stale(settings(), root)
    for path in differing:
        console.print(f"[red]stale:[/red] {path} (run `journey dashboards write`)")
    raise typer.Exit(1 if differing else 0)


# -- demo --------------------------------------------------------------------------------------
@app.command("demo")
def demo(
    customers: Annotated[
        int | None, typer.Option(min=1, help="simulated customers (default: simulation.customers)")
    ] = None,
    html: Annotated[Path, typer.Option(help="where to write report.html")] = Path("report.html"),
) -> None:
    """The whole pipeline on this machine: local Kafka, `journey run` into the embedded ClickHouse,
    ~2,000 simulated customers with an incident, live progress, then the report and report.html."""
    from journey.cli.demo import run_demo

    sys.exit(run_demo(settings(), customers, console, html))


# -- audit -------------------------------------------------------------------------------------
def _register_audit() -> None:
    from journey.cli.audit import audit_command

    app.command("audit")(audit_command)


_register_audit()


def main() -> None:  # pragma: no cover - console-script convenience
    app()

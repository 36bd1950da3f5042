"""`journey audit`: do the numbers add up? (journey/reports/audit.py says what is checked.)"""

from __future__ import annotations

from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from journey.config import ConfigError, load_settings, masked_dsn

EXIT_VIOLATED = 1  # an invariant does not hold
EXIT_CANNOT = 2  # the settings, ClickHouse or Kafka could not be read


def audit_command(
    json_output: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Check that the numbers add up: every on-time touchpoint in exactly one session (closed in
    ClickHouse or open in the live state), no abandonment of a flow completed in time, no negative
    recovery time, no stage first reached twice, rollups equal to the raw rows. Exit 1 when one
    does not hold. Exact once the pipeline has caught up; run it beside `journey worker` and a
    ClickHouse server, or after `journey run` stopped (the embedded engine has one user at a time)."""
    from journey.reports.audit import audit, open_sessions
    from journey.reports.report import engine_in_use
    from journey.sinks.clickhouse_client import connect

    console = Console(stderr=True)
    try:
        config = load_settings()
    except ConfigError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(EXIT_CANNOT) from None
    if engine_in_use(config.clickhouse.dsn):
        console.print(f"[red]the embedded ClickHouse at {config.clickhouse.dsn} is open in another process "
                      "(`journey run`): stop it first, or audit against a ClickHouse server[/red]")  # fmt: skip
        raise typer.Exit(EXIT_CANNOT)
    try:
        live = open_sessions(config)
    except Exception as error:  # noqa: BLE001 - one line, naming what could not be read
        console.print(f"[red]cannot read the journey state from Kafka ({config.kafka.bootstrap_servers}): "
                      f"{str(error).splitlines()[0]}[/red]")  # fmt: skip
        raise typer.Exit(EXIT_CANNOT) from None
    try:
        result = audit(connect(config.clickhouse, "reader"), config, live)
    except Exception as error:  # noqa: BLE001
        console.print(f"[red]cannot read ClickHouse ({masked_dsn(config.clickhouse.dsn)}): "
                      f"{str(error).splitlines()[0]}[/red]")  # fmt: skip
        raise typer.Exit(EXIT_CANNOT) from None
    if json_output:
        print(orjson.dumps({**result.as_dict(), "adds_up": result.adds_up}, option=orjson.OPT_INDENT_2).decode())
    else:
        table = Table("check", "count", title="journey audit")
        for name, value in result.as_dict().items():
            broken = result.violations().get(name, 0) > 0
            table.add_row(name.replace("_", " "), f"[red]{value}[/red]" if broken else str(value))
        Console().print(table)
        console.print("the numbers add up" if result.adds_up else "[red]the numbers do not add up[/red]")
    raise typer.Exit(0 if result.adds_up else EXIT_VIOLATED)

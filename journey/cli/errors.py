"""The `journey` command's error boundary: whatever a command raises becomes one line naming the
setting or file to fix, and the exit code says what kind of failure it was:

    0  done
    1  the command's own "no": invalid lines published around, nothing known of a customer,
       stale boards, a broker not running (`stack status`), an erasure not applied in time
    2  usage, configuration, connection or file error: nothing (more) was done; fix and re-run
    3  a bug: an unexpected exception (`--debug` shows its traceback)

`--debug` lets every exception through with its traceback, and librdkafka's log lines too.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

USAGE = 2
BUG = 3
DEBUG = False  # set by the `--debug` option
SETTINGS_HINT = "check kafka.bootstrap_servers (JOURNEY_KAFKA__BOOTSTRAP_SERVERS) and that the broker runs"


class CommandError(Exception):
    """A failure the user fixes: its message says how; exit 2."""


def one_line(message: str) -> str:
    """A ConfigError of one problem (a header and one `  - ` line) as one line."""
    lines = message.strip().splitlines()
    if len(lines) == 2 and lines[1].lstrip().startswith("- "):
        return f"{lines[0].split(' (')[0]}: {lines[1].strip()[2:]}"
    return "\n".join(lines)


def explain(error: BaseException, clickhouse_dsn: str | None = None) -> str | None:
    """The one line for an error a user can fix; None for a bug."""
    from confluent_kafka import KafkaException

    from journey.config import masked_dsn
    from journey.kafka_access import KafkaAccessError
    from journey.sdk_settings import ConfigError

    module = type(error).__module__.split(".")[0]
    first = " ".join(str(error).split())  # ClickHouse messages span lines
    if isinstance(error, CommandError | ConfigError | KafkaAccessError):
        return one_line(str(error))
    if isinstance(error, KafkaException):
        return f"Kafka: {error.args[0].str() if error.args else error}: {SETTINGS_HINT}"
    if module in ("clickhouse_connect", "chdb", "urllib3") or "DB::Exception" in first:
        if (refused := re.search(r"\[Errno -?\d+\] ([^\"')]+)", first)) is not None:  # the cause, not the pool's story
            first = refused[1].strip()
        where = masked_dsn(clickhouse_dsn) if clickhouse_dsn else "ClickHouse"
        return f"ClickHouse at {where}: {first[:300]}: check clickhouse.dsn (JOURNEY_CLICKHOUSE__DSN) and that it runs"
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror or first}"
    if isinstance(error, OSError):  # sockets, urllib: a network problem
        return f"network error: {first}"
    return None


def run(app: Callable[[], object], clickhouse_dsn: Callable[[], str | None] = lambda: None) -> None:
    """Run the typer app; turn what escapes it into one line on stderr and an exit code."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:
        if DEBUG:
            raise
        message = explain(error, clickhouse_dsn())
        if message is None:
            sys.stderr.write(f"journey: unexpected error {type(error).__name__}: {error} (a bug: re-run with "
                             "--debug for the traceback and report it)\n")  # fmt: skip
            sys.exit(BUG)
        sys.stderr.write(f"journey: {message}\n")
        sys.exit(USAGE)

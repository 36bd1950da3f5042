"""Times on the command line: ISO-8601, with an offset converted to UTC, without one read as
UTC; a window whose start is not before its end is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import typer


def utc_time(value: str) -> datetime:
    """`2026-12-01`, `2026-12-01T10:00`, `2026-12-01T10:00+01:00` (= 09:00 UTC), `…Z`."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO-8601 time (e.g. 2026-12-01T10:00+01:00)") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def check_window(since: datetime | None, until: datetime | None, names: str = "--since/--until") -> None:
    if since is not None and until is not None and since >= until:
        first, second = names.split("/")
        raise typer.BadParameter(
            f"{first} {since.isoformat()} is not before {second} {until.isoformat()} (the window would be empty)"
        )

"""Publishing a JSON Lines file: validate every line first (offline), then send the valid ones;
the rest are reported, whatever happens to the sending."""

from __future__ import annotations

import shutil
import sys
import tempfile
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import orjson

from journey.publisher import TouchpointPublisher
from journey.schemas.touchpoint import InvalidTouchpoint, Touchpoint, check_event_time, parse_touchpoint
from journey.sdk_settings import ContractSettings

SPOOL_IN_MEMORY_BYTES = 64 << 20  # standard input beyond this goes to a temporary file


@dataclass(frozen=True)
class RejectedLine:
    line_number: int
    reason: str
    message: str
    raw: bytes

    def as_json(self) -> bytes:
        return orjson.dumps(
            {
                "line": self.line_number,
                "reason": self.reason,
                "message": self.message,
                "original": self.raw.decode("utf-8", errors="backslashreplace"),
            }
        )


@dataclass
class PublishSummary:
    lines: int = 0
    valid: int = 0
    published: int = 0
    blank: int = 0
    rejected: list[RejectedLine] = field(default_factory=list)


def read_touchpoints(stream: BinaryIO) -> Iterator[tuple[int, int, Touchpoint | RejectedLine | None]]:
    """Yield (line number, bytes read, event or rejection or None for a blank line)."""
    for number, line in enumerate(stream, start=1):
        payload = line.rstrip(b"\r\n")
        if not payload.strip():
            yield number, len(line), None
            continue
        try:
            yield number, len(line), parse_touchpoint(payload)
        except InvalidTouchpoint as error:
            yield number, len(line), RejectedLine(number, error.reason, error.message, payload)


def check_lines(stream: BinaryIO, contract: ContractSettings, now: datetime) -> PublishSummary:
    """The offline pass: every line checked as the SDK and stage 1 will check it (the schema and
    the contract's time limits from `now`), nothing sent."""
    summary = PublishSummary()
    for number, _, item in read_touchpoints(stream):
        summary.lines = number
        if isinstance(item, Touchpoint):
            try:
                check_event_time(item, now, contract.max_future, contract.max_age)
                summary.valid += 1
            except InvalidTouchpoint as error:
                summary.rejected.append(RejectedLine(number, error.reason, error.message, item.to_json_bytes()))
        elif item is None:
            summary.blank += 1
        else:
            summary.rejected.append(item)
    return summary


def send_lines(
    stream: BinaryIO,
    publisher: TouchpointPublisher,
    summary: PublishSummary,
    on_progress: Callable[[int], None] = lambda _bytes: None,
) -> None:
    """The second pass: publish every line the first found valid. One that crossed a time limit
    since (the clock moved on) joins the rejected instead of stopping the file."""
    skip = {r.line_number for r in summary.rejected}
    for number, size, item in read_touchpoints(stream):
        if isinstance(item, Touchpoint) and number not in skip:
            try:
                publisher.publish(item)
                summary.published += 1
            except InvalidTouchpoint as error:
                summary.rejected.append(RejectedLine(number, error.reason, error.message, item.to_json_bytes()))
        on_progress(size)
    publisher.flush()


def open_source(path: Path) -> BinaryIO:
    """The file, or for `-` standard input spooled (the two passes read it twice)."""
    if str(path) != "-":
        return path.open("rb")
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115 - the caller closes it
    shutil.copyfileobj(sys.stdin.buffer, spool)
    spool.seek(0)
    return typing.cast(BinaryIO, spool)

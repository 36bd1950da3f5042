"""Publishing a JSON Lines file: validate every line, send the valid ones, report the rest."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import orjson

from journey.publisher import TouchpointPublisher
from journey.schemas.touchpoint import InvalidTouchpoint, Touchpoint, parse_touchpoint


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


def publish_file(
    path: Path,
    publisher: TouchpointPublisher,
    on_progress: Callable[[int], None] = lambda _bytes: None,
) -> PublishSummary:
    summary = PublishSummary()
    with path.open("rb") as stream:
        for number, size, item in read_touchpoints(stream):
            summary.lines = number
            if item is None:
                summary.blank += 1
            elif isinstance(item, RejectedLine):
                summary.rejected.append(item)
            else:
                publisher.publish(item)
                summary.published += 1
            on_progress(size)
    publisher.flush()
    return summary

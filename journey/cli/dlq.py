"""What the dead-letter topics hold, for an operator after a bad deploy of a publisher: counts by
reason, source and hour, and sample records, for stage 1's topic (events that are not valid
touchpoints) and the sink's (records ClickHouse refused). Read-only: no offsets are committed."""

from __future__ import annotations

import base64
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from confluent_kafka import Message

from journey.cli.topic_reader import read_to_end
from journey.config import Settings
from journey.topics import DEAD_LETTER, SINK_DEAD_LETTER

UNKNOWN_SOURCE = "(no source: not a JSON object)"
SAMPLE_CHARS = 300


@dataclass(frozen=True)
class DeadLetter:
    reason: str  # stage 1: its code, with the first offending field of a schema error
    source: str  # the `source` field of the original event, when it has one
    hour: str  # when it was dead-lettered, UTC, to the hour
    message: str
    original: bytes
    partition: int
    offset: int


@dataclass
class Summary:
    topic: str
    total: int = 0
    by_reason: Counter = field(default_factory=Counter)
    by_source: Counter = field(default_factory=Counter)
    by_hour: Counter = field(default_factory=Counter)
    samples: dict[str, list[DeadLetter]] = field(default_factory=lambda: defaultdict(list))

    def add(self, letter: DeadLetter, samples_per_reason: int) -> None:
        self.total += 1
        self.by_reason[letter.reason] += 1
        self.by_source[letter.source] += 1
        self.by_hour[letter.hour] += 1
        if len(self.samples[letter.reason]) < samples_per_reason:
            self.samples[letter.reason].append(letter)

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "total": self.total,
            "by_reason": dict(self.by_reason.most_common()),
            "by_source": dict(self.by_source.most_common()),
            "by_hour": dict(sorted(self.by_hour.items())),
            "samples": {reason: [_sample_json(s) for s in letters] for reason, letters in self.samples.items()},
        }


def inspect(settings: Settings, samples_per_reason: int = 3) -> list[Summary]:
    """Both dead-letter topics, read from their start to their end as of now."""
    summaries = []
    for name, parse in ((DEAD_LETTER, stage_letter), (SINK_DEAD_LETTER, sink_letter)):
        topic = settings.topics.name(name)
        summary = Summary(topic)
        for message in read_to_end(settings, topic):
            summary.add(parse(message), samples_per_reason)
        summaries.append(summary)
    return summaries


def stage_letter(message: Message) -> DeadLetter:
    """Stage 1's envelope (streams/records.py `dead_letter_record`): reason code, per-field errors,
    the original bytes in base64."""
    envelope = _object(message.value())
    original = base64.b64decode(envelope.get("original") or "")
    reason = str(envelope.get("reason", "unknown"))
    errors = envelope.get("errors") or []
    if errors and isinstance(errors[0], dict) and errors[0].get("field"):
        reason = f"{reason} ({errors[0]['field']})"
    return DeadLetter(reason, _source(original), _hour(message), str(envelope.get("message", "")), original,
                      message.partition(), message.offset())  # fmt: skip


def sink_letter(message: Message) -> DeadLetter:
    """The sink's envelope (sinks/sink.py): a reason sentence, the journey.* topic, the record."""
    envelope = _object(message.value())
    text = str(envelope.get("reason", "unknown"))
    reason = text.split(":", 1)[0]  # "rejected by ClickHouse", "not JSON", "not a JSON object"
    original = str(envelope.get("original", "")).encode()
    return DeadLetter(reason, str(envelope.get("topic", "?")), _hour(message), text, original,
                      message.partition(), message.offset())  # fmt: skip


def _object(raw: bytes | None) -> dict[str, Any]:
    try:
        value = orjson.loads(raw or b"")
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _source(original: bytes) -> str:
    source = _object(original).get("source")
    return source if isinstance(source, str) and source else UNKNOWN_SOURCE


def _hour(message: Message) -> str:
    _, timestamp_ms = message.timestamp()
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC).strftime("%Y-%m-%d %H:00")


def _sample_json(letter: DeadLetter) -> dict[str, Any]:
    return {
        "partition": letter.partition,
        "offset": letter.offset,
        "source": letter.source,
        "message": letter.message,
        "original": letter.original[:SAMPLE_CHARS].decode(errors="replace"),
    }

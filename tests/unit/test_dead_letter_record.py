"""The dead-letter envelope keeps the original bytes whole when the dead-letter topic has room,
and otherwise says how much was cut, with the whole's size and SHA-256."""

from __future__ import annotations

import base64
import hashlib

import orjson

from journey.streams.records import dead_letter_record


def envelope(original: bytes, max_bytes: int) -> tuple[bytes, dict]:
    record = dead_letter_record(reason="too_large", message="event is too large", errors=[], topic="touchpoints",
                                partition=2, offset=41, key=b"anon-1", original=original, max_bytes=max_bytes)  # fmt: skip
    return record, orjson.loads(record)


def test_an_original_that_fits_is_kept_whole() -> None:
    original = bytes(range(256)) * 400  # not UTF-8, 100 KiB
    _record, body = envelope(original, 4 * 1024 * 1024)
    assert base64.b64decode(body["original"]) == original
    assert "original_truncated" not in body
    assert (body["partition"], body["offset"], base64.b64decode(body["key"])) == (2, 41, b"anon-1")


def test_an_original_too_large_for_the_topic_is_cut_to_fit_and_identified() -> None:
    original = b"x" * 3_000_000
    record, body = envelope(original, 1024 * 1024)
    assert len(record) <= 1024 * 1024
    assert body["original_truncated"] is True
    assert body["original_bytes"] == len(original)
    assert body["original_sha256"] == hashlib.sha256(original).hexdigest()
    kept = base64.b64decode(body["original"])
    assert original.startswith(kept) and len(kept) > 700_000

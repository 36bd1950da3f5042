from __future__ import annotations

import io

import orjson

from journey.cli.jsonl import RejectedLine, read_touchpoints
from journey.cli.samples import sample_journey
from journey.schemas.touchpoint import Touchpoint


def test_lines_are_numbered_and_classified() -> None:
    good = [orjson.dumps(e) for e in sample_journey(seed=1)[:2]]
    data = b"\n".join([good[0], b"", b"{broken", good[1], b'{"event_id": "x"}']) + b"\n"
    items = list(read_touchpoints(io.BytesIO(data)))
    kinds = [(number, type(item).__name__) for number, _, item in items]
    assert kinds == [(1, "Touchpoint"), (2, "NoneType"), (3, "RejectedLine"), (4, "Touchpoint"), (5, "RejectedLine")]
    assert sum(size for _, size, _ in items) == len(data)
    rejected = [item for _, _, item in items if isinstance(item, RejectedLine)]
    assert rejected[0].reason == "not_json" and rejected[0].raw == b"{broken"
    assert orjson.loads(rejected[1].as_json())["line"] == 5


def test_sample_journey_is_valid_deterministic_and_stitchable() -> None:
    events = sample_journey(seed=7)
    assert events == sample_journey(seed=7)
    parsed = [Touchpoint.model_validate(e) for e in events]
    assert [p.occurred_at for p in parsed] == sorted(p.occurred_at for p in parsed)
    assert parsed[0].customer_id is None and parsed[0].anonymous_id == "anon-000007"
    assert any(p.touchpoint == "identity.identified" and p.customer_id and p.anonymous_id for p in parsed)
    assert len({p.event_id for p in parsed}) == len(parsed)

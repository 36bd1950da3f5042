"""The committed JSON Schema changes only compatibly within schema_version 1: every event valid
against the released contract (schemas/contract/touchpoint.v1.schema.json) stays valid. And the
checker tells a breaking change from a compatible one, for each kind of change."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from journey.schemas.compatibility import breaking_changes
from journey.schemas.touchpoint import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[1]
RELEASED = json.loads((ROOT / "schemas" / "contract" / f"touchpoint.v{SCHEMA_VERSION}.schema.json").read_text())
CURRENT = json.loads((ROOT / "schemas" / "touchpoint.schema.json").read_text())


def test_the_committed_schema_is_compatible_with_the_released_contract() -> None:
    assert breaking_changes(RELEASED, CURRENT) == [], "a breaking change needs a new schema_version (CHANGELOG.md)"


def changed(edit) -> dict:
    schema = copy.deepcopy(RELEASED)
    edit(schema)
    return schema


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda s: s["properties"].pop("flow"), "property 'flow' removed"),
    (lambda s: s["required"].append("flow"), "property 'flow' newly required"),
    (lambda s: s["$defs"]["Channel"]["enum"].remove("web"), "property 'channel': values no longer allowed: ['web']"),
    (lambda s: s["properties"]["score"].update(anyOf=[{"type": "string"}, {"type": "null"}]), "property 'score': type"),
    (lambda s: s["properties"]["source"].update(maxLength=3), "property 'source': maxLength"),
    (lambda s: s.update(anyOf=[{"required": ["customer_id"]}]), "alternatives"),
])  # fmt: skip
def test_breaking_changes_are_named(edit, expected: str) -> None:
    problems = breaking_changes(RELEASED, changed(edit))
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("edit", [
    lambda s: s["properties"].update(campaign={"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}),
    lambda s: s["$defs"]["Channel"]["enum"].append("fax"),
    lambda s: s["properties"]["score"].update(description="a new description"),
    lambda s: s["anyOf"].append({"required": ["account_id"]}),  # one more way to be valid
])  # fmt: skip
def test_compatible_changes_pass(edit) -> None:
    assert breaking_changes(RELEASED, changed(edit)) == []

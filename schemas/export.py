"""Write the committed JSON Schema file: `python -m schemas.export` (a test checks it is current)."""

from __future__ import annotations

from pathlib import Path

import orjson

from journey.schemas.touchpoint import json_schema

SCHEMA_FILE = Path(__file__).with_name("touchpoint.schema.json")


def render() -> bytes:
    return orjson.dumps(json_schema(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


if __name__ == "__main__":
    SCHEMA_FILE.write_bytes(render())
    print(f"wrote {SCHEMA_FILE}")

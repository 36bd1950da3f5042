"""docs/queries.md is what schemas/queries.py renders (users read it; it must not drift)."""

from __future__ import annotations

from pathlib import Path

from journey.config import Settings
from journey.schemas.queries import markdown


def test_docs_queries_md_is_generated_from_the_current_queries() -> None:
    committed = (Path(__file__).resolve().parent.parent / "docs" / "queries.md").read_text()
    assert committed == markdown(Settings()), "run: python -m journey.schemas.queries > docs/queries.md"

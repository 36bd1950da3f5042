"""The `journey` command's hint for a base install names the `pipeline` extra's modules exactly:
each import name it treats as "the extra is missing" comes from a distribution of that extra, and
every distribution of the extra is covered (pyproject.toml against the installed metadata)."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from journey.cli import PIPELINE_MODULES

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())


def distribution(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_the_pipeline_hint_knows_the_pipeline_extras_modules() -> None:
    extra = {distribution(r) for r in PYPROJECT["project"]["optional-dependencies"]["pipeline"]}
    owners = packages_distributions()
    by_module = {module: {d.lower().replace("_", "-") for d in owners.get(module, [])} for module in PIPELINE_MODULES}
    assert all(dists & extra for dists in by_module.values()), by_module
    assert set().union(*by_module.values()) >= extra, extra - set().union(*by_module.values())

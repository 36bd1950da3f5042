"""Imports run one way (docs/architecture.md, "Layers"): contracts and settings at the bottom, the
publisher SDK, the pure core, the shells, the CLI on top. A module imports its own layer or lower
ones, function-level (lazy) imports included; the pure core imports no I/O library and no clock.
Read from the source with `ast`, so a new module is checked the day it is added: one that no layer
names fails the test until it is placed."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Where each part of the `journey` package lives in the repository (pyproject.toml's package-dir).
FOLDERS = {"journey": ROOT / "journey", "journey.streams": ROOT / "streams", "journey.sinks": ROOT / "sinks",
           "journey.schemas": ROOT / "schemas"}  # fmt: skip

CONTRACTS, SDK, CORE, SHELLS, CLI = range(5)
LAYER_NAMES = ("contracts and settings", "publisher SDK", "pure core", "shells", "CLI")
# A module's layer: the longest prefix listed here names it.
LAYERS: dict[str, int] = {
    "journey.sdk_settings": CONTRACTS,
    "journey.schemas": CONTRACTS,  # the package: the contract's re-exports
    "journey.schemas.touchpoint": CONTRACTS,
    "journey.schemas.stages": CONTRACTS,
    "journey.config": CONTRACTS,
    "journey.config_env": CONTRACTS,
    "journey.topics": CONTRACTS,
    "journey": SDK,
    "journey.kafka_access": SDK,
    "journey.publisher": SDK,
    "journey.schemas.compatibility": CORE,
    "journey.schemas.export": CORE,
    "journey.schemas.queries": CORE,
    "journey.schemas.board_queries": CORE,
    "journey.schemas.map_queries": CORE,
    "journey.schemas.path_queries": CORE,
    "journey.schemas.customer_queries": CORE,
    "journey.streams": CORE,  # every stage's logic, but for the shells below
    "journey.sinks": CORE,
    "journey.sinks.rows": CORE,
    "journey.sinks.batching": CORE,
    "journey.streams.worker": SHELLS,
    "journey.streams.worker_views": SHELLS,
    "journey.streams.group_loop": SHELLS,
    "journey.streams.kafka_output": SHELLS,
    "journey.streams.state_store": SHELLS,
    "journey.streams.state_table": SHELLS,
    "journey.streams.metrics": SHELLS,
    "journey.streams.web": SHELLS,
    "journey.streams.lag": SHELLS,
    "journey.sinks.sink": SHELLS,
    "journey.sinks.erasure": SHELLS,
    "journey.sinks.access": SHELLS,
    "journey.sinks.clickhouse_client": SHELLS,
    "journey.sinks.read_guard": SHELLS,
    "journey.sinks.migrations": SHELLS,
    "journey.sinks.in_worker": SHELLS,
    "journey.reports": SHELLS,
    "journey.cli": CLI,
}
# What the pure core may not import: I/O, processes, the network, the clock.
IMPURE = {"confluent_kafka", "clickhouse_connect", "chdb", "aiohttp", "rocksdict", "prometheus_client", "socket",
          "subprocess", "threading", "urllib", "time", "os", "shutil"}  # fmt: skip
CORE_EXCEPTIONS = {"journey.schemas.export": {"pathlib"}}  # writes the committed JSON Schema file: its job


def modules() -> Iterator[tuple[str, Path]]:
    for package, folder in FOLDERS.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join((package, *parts)), path


def layer(module: str) -> int:
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        if (prefix := ".".join(parts[:end])) in LAYERS:
            return LAYERS[prefix]
    raise KeyError(module)


def imports(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every module `path` imports, with its line; relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            yield base, node.lineno
            yield from ((f"{base}.{alias.name}", node.lineno) for alias in node.names)


ALL = dict(modules())


def test_every_module_has_a_layer() -> None:
    unplaced = []
    for module in ALL:
        try:
            layer(module)
        except KeyError:
            unplaced.append(module)
    assert not unplaced, f"place these in tests/test_layers.py LAYERS: {unplaced}"


@pytest.mark.parametrize("module", sorted(ALL))
def test_imports_run_one_way(module: str) -> None:
    own = layer(module)
    upward = []
    for imported, line in imports(module, ALL[module]):
        if imported.startswith("journey") and imported in ALL and layer(imported) > own:
            upward.append(f"line {line}: {imported} ({LAYER_NAMES[layer(imported)]})")
    assert not upward, f"{module} ({LAYER_NAMES[own]}) imports upward: {upward}"


@pytest.mark.parametrize("module", sorted(m for m in ALL if layer(m) == CORE))
def test_the_pure_core_does_no_io(module: str) -> None:
    allowed = CORE_EXCEPTIONS.get(module, set())
    impure = {f"line {line}: {imported}" for imported, line in imports(module, ALL[module])
              if imported.split(".")[0] in IMPURE - allowed}  # fmt: skip
    assert not impure, f"{module} is pure core but imports {sorted(impure)}"


def test_the_sdk_imports_nothing_of_the_pipeline_extra() -> None:
    """`pip install journey-telemetry` brings confluent-kafka, pydantic and orjson: nothing the
    SDK's modules import may need more (the fresh-virtualenv test proves it by running them)."""
    base = {"confluent_kafka", "pydantic", "pydantic_core", "orjson"}
    sdk = [m for m in ALL if layer(m) in (CONTRACTS, SDK) and m not in ("journey.config", "journey.topics")]
    for module in sdk:
        third_party = {imported.split(".")[0] for imported, _ in imports(module, ALL[module])
                       if not imported.startswith(("journey", "__future__")) and imported}  # fmt: skip
        stdlib_or_base = {name for name in third_party if name in base or name in sys.stdlib_module_names}
        assert third_party == stdlib_or_base, f"{module} imports {sorted(third_party - stdlib_or_base)}"

"""The `journey` command: the pipeline's processes, its local stack, the demo and the operators'
tools. It needs the `pipeline` extra; `main` says so instead of a traceback when it is missing."""

from __future__ import annotations

import sys

PIPELINE_EXTRA_HINT = "pip install 'journey-telemetry[pipeline]'"
# What the `pipeline` extra brings (pyproject.toml), by import name.
PIPELINE_MODULES = {"aiohttp", "chdb", "clickhouse_connect", "cryptography", "prometheus_client", "pydantic_settings",
                    "rich", "rocksdict", "typer", "yaml"}  # fmt: skip


def main() -> None:
    try:
        from journey.cli.app import app
    except ModuleNotFoundError as error:  # a base (SDK-only) install
        if (error.name or "").split(".")[0] not in PIPELINE_MODULES:
            raise
        sys.exit(f"the journey command needs the pipeline extra ({error.name} is not installed): {PIPELINE_EXTRA_HINT}")
    app()  # inside the error boundary (journey/cli/errors.py)

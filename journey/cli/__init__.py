"""The `journey` command: the pipeline's processes, its local stack, the demo and the operators'
tools. It needs the `pipeline` extra; `main` says so instead of a traceback when it is missing."""

from __future__ import annotations

import sys

PIPELINE_EXTRA_HINT = "pip install 'journey-telemetry[pipeline]'"


def main() -> None:
    try:
        from journey.cli.app import app
    except ModuleNotFoundError as error:  # a base (SDK-only) install
        sys.exit(f"the journey command needs the pipeline extra ({error.name} is not installed): {PIPELINE_EXTRA_HINT}")
    app()

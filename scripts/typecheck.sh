#!/usr/bin/env bash
# mypy on the package as it installs: `journey` with streams/, sinks/ and schemas/ as its
# subpackages. mypy cannot follow setuptools' package-dir mapping, so it reads a view of links
# (build/typecheck/journey) and its messages are mapped back to the repository's paths.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VIEW=build/typecheck
rm -rf "$VIEW" && mkdir -p "$VIEW/journey"
for entry in journey/*; do
  [ "$(basename "$entry")" = __pycache__ ] || ln -s "$ROOT/$entry" "$VIEW/journey/$(basename "$entry")"
done
for folder in streams sinks schemas; do ln -s "$ROOT/$folder" "$VIEW/journey/$folder"; done
cd "$VIEW"
status=0
"$ROOT/.venv/bin/python" -m mypy --config-file "$ROOT/pyproject.toml" --cache-dir "$ROOT/.mypy_cache" -p journey "$@" \
  | sed -E 's#^journey/(streams|sinks|schemas)/#\1/#' || status=$?
exit $status

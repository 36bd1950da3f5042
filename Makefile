# The two commands of the README: `make demo` and `make test`. Both install what they need first.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint soak kill-loop chaos fuzz deps bench schema clean

deps:
	@scripts/bootstrap.sh

demo: deps
	$(BIN)/journey demo

test: deps lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff (lint and format), mypy (through scripts/typecheck.sh) and the import layers.
lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	scripts/typecheck.sh
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_layers.py

# `journey run` for SOAK_SECONDS at half its maximum rate: RSS, state and lag must stay flat
# (figures written to docs/reliability.md; exit 1 when not flat).
SOAK_SECONDS ?= 600
soak: deps
	$(BIN)/python -m bench.soak --seconds $(SOAK_SECONDS)

# Kill `journey run` at random points, KILL_RUNS times; each failure prints its KILL_SEED.
KILL_RUNS ?= 5
kill-loop: deps
	@for i in $$(seq $(KILL_RUNS)); do $(BIN)/python -m pytest -q tests/integration/test_run_end_to_end.py -k random || exit 1; done

# The real worker against the in-memory model, CHAOS_RUNS random seeds (tests/integration/chaos.py:
# publishers, batch sizes, 1-3 workers, kill -9, a CPU hog); each failure prints its CHAOS_SEED.
CHAOS_RUNS ?= 30
chaos: deps
	CHAOS_RUNS=$(CHAOS_RUNS) $(BIN)/python -m pytest -q tests/integration/test_chaos.py

# Every decoder of outside bytes and the pure stages, 10,000 cases per target (make test runs 1,000 and 500).
fuzz: deps
	JOURNEY_FUZZ_EXAMPLES=10000 $(BIN)/python -m pytest -q tests/unit/test_fuzz_decoders.py tests/unit/test_fuzz_pure_core.py

schema: deps
	$(BIN)/python -m journey.schemas.export

bench: deps
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	$(BIN)/python -m bench.run_all

clean:
	-$(BIN)/journey stack down
	rm -rf .journey/kafka .journey/clickhouse

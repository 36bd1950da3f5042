# The two commands of the README: `make demo` and `make test`. Both install what they need first.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test soak fuzz deps bench schema clean

deps:
	@scripts/bootstrap.sh

demo: deps
	$(BIN)/journey demo

test: deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Kill `journey run` at random points, SOAK_RUNS times; each failure prints its KILL_SEED.
SOAK_RUNS ?= 5
soak: deps
	@for i in $$(seq $(SOAK_RUNS)); do $(BIN)/python -m pytest -q tests/integration/test_run_end_to_end.py -k random || exit 1; done

# Every decoder of outside bytes, 10,000 cases per target (make test runs 2,000).
fuzz: deps
	JOURNEY_FUZZ_EXAMPLES=10000 $(BIN)/python -m pytest -q tests/unit/test_fuzz_decoders.py

schema: deps
	$(BIN)/python -m schemas.export

bench: deps
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	$(BIN)/python -m bench.run_all

clean:
	-$(BIN)/journey stack down
	rm -rf .journey/kafka .journey/clickhouse

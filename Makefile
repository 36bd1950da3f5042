# The two commands of the README: `make demo` and `make test`. Both install what they need first.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test deps bench schema clean

deps:
	@scripts/bootstrap.sh

demo: deps
	$(BIN)/journey demo

test: deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

schema: deps
	$(BIN)/python -m schemas.export

bench: deps
	$(BIN)/python -m bench.run_all

clean:
	-$(BIN)/journey stack down
	rm -rf .journey/kafka .journey/clickhouse

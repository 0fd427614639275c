# Two commands on a fresh machine with Python 3.11 and make: `make run` and `make test`.
# `make bench` measures (bench/README.md); it is not part of `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out/pilot
BENCH_MOVEMENTS ?= 10 40 100

.PHONY: run test bench install clean

run: $(STAMP)
	$(BIN)/caravan run scenarios/aze-geo-uzb-transit.yaml --out $(OUT)

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench.run --movements $(BENCH_MOVEMENTS) --out out/bench

install: $(STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(STAMP): $(VENV)/bin/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) out .pytest_cache

# Two commands on a fresh machine with Python 3.11 and make: `make run` and `make test`.
# `make bench` measures (bench/README.md); it is not part of `make test`.
# `make compose-test` runs the docker-compose topology end to end (a Docker engine, or root to install one).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out/pilot
BENCH_MOVEMENTS ?= 10 40 100
CORRIDOR_MOVEMENTS ?= 100 1000 10000

.PHONY: run test bench bench-corridor install clean compose-test constraints bindings

run: $(STAMP)
	$(BIN)/caravan run scenarios/aze-geo-uzb-transit.yaml --out $(OUT)

# -n auto: one worker per core (xdist); every test takes its own ports and directories
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto

bench: $(STAMP)
	$(BIN)/python -m bench.run --movements $(BENCH_MOVEMENTS) --out out/bench
	$(BIN)/python -m bench.floor out/bench/bench-$(lastword $(BENCH_MOVEMENTS))-movements
	$(BIN)/python -m bench.latency --out out/bench

# issue 13's volume target: the eleven CAREC countries, 10,000 movements (hours on a small machine)
bench-corridor: $(STAMP)
	$(BIN)/python -m bench.run --countries 11 --movements $(CORRIDOR_MOVEMENTS) --out out/bench-corridor
	$(BIN)/python -m bench.floor out/bench-corridor/carec-$(lastword $(CORRIDOR_MOVEMENTS))-movements

install: $(STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

# constraints.txt pins every package at the version the image installs too (Dockerfile). The development venv
# also holds the bindings generator: `make test` regenerates nodes/customs/p5/ and compares it byte for byte.
$(STAMP): $(VENV)/bin/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,bindings]'
	touch $(STAMP)

compose-test:
	scripts/compose-test.sh

# The CATS data bindings (nodes/customs/p5/, committed) from schemas/cats/*.xsd, after a schema change.
# xsdata's generator (the 'bindings' extra) is needed only here and in the test that regenerates them; at run
# time caravan needs xsdata's core alone (the image installs no extras).
bindings: $(STAMP)
	scripts/generate-bindings.sh nodes/customs/p5

# After a dependency change in pyproject.toml: resolve afresh in a throwaway venv and pin what it installed.
constraints:
	rm -rf .venv-constraints
	$(PYTHON) -m venv .venv-constraints || python3 -m venv .venv-constraints
	.venv-constraints/bin/python -m pip install --quiet '.[test,bindings]'
	{ grep '^#' constraints.txt; .venv-constraints/bin/python -m pip freeze --exclude-editable | grep -iv '^caravan'; } \
		> constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf .venv-constraints build  # build/: what pip left of the non-editable install

clean:
	rm -rf $(VENV) out .pytest_cache

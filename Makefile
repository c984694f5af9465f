# Terrarium: `make run` sets everything up and runs the app; `make test` runs the suite.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: setup run test test-runtime test-dashboard test-cgroupv2 bench

setup:
	@scripts/setup.sh

run: setup
	@scripts/run.sh

test: setup
	@scripts/test.sh tests

test-runtime: setup
	@scripts/test.sh tests/runtime

test-dashboard: setup
	@scripts/test.sh tests/dashboard

test-cgroupv2: setup
	@scripts/test-cgroupv2.sh

bench: setup
	@for b in $(filter-out bench/dashboard_stack.py bench/compare.py,$(wildcard bench/*.py)); do echo "== $$b"; $(PY) $$b || exit 1; done

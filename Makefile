# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Set-up (virtual environment from requirements.lock, npm ci from package-lock.json) runs
# once and again only when a lock file changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
PYTEST_WORKERS ?= 2
# Some machines set PYTHONDONTWRITEBYTECODE: then every test worker and every process a test
# starts (CLI, service, enclave) compiles the project's modules again, and pytest rewrites
# every test module's asserts again (collection 10.5 s -> 6.9 s per worker with the cache).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: browser setup demo test test-slow bench contracts dashboard clean mutation

setup: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.3
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: setup
	$(BIN)/risk-agent demo

# The dashboard's browser test drives Debian's chromium; install it when missing (CI runs as root).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -q && apt-get install -y -q chromium) >/dev/null 2>&1 || \
		echo "chromium not installed: the browser test will be skipped"

test: setup browser
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "not slow" --dist loadgroup

test-slow: setup browser
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m slow --dist loadgroup

# Mutation testing of the core (not in CI): one module at a time against its own tests, one
# worker, a CPU-time limit per mutant; scores and survivors in var/mutation/, equivalent
# mutants listed in docs/mutation.md. `make mutation MODULES="strategies/bounds.py"` for one.
mutation: setup
	$(BIN)/python scripts/mutation.py $(MODULES)

# Figures for the notes, run by hand on a quiet machine (tens of minutes; nothing here is a test).
bench: setup
	$(BIN)/python benchmarks/chain_bench.py
	$(BIN)/python benchmarks/aave_bench.py
	$(BIN)/python benchmarks/decide_bench.py --daily-fits
	$(BIN)/python benchmarks/enclave_bench.py
	$(BIN)/python benchmarks/backtest_bench.py engine agent-1 agent-10 sweep
	$(BIN)/python benchmarks/demo_bench.py
	$(BIN)/python benchmarks/calibration_report.py
	$(BIN)/python benchmarks/crash_table.py

contracts: $(NODE_STAMP)
	node chain/build.js

dashboard: setup
	$(BIN)/risk-agent dashboard

clean:
	rm -rf $(VENV) node_modules var test-artifacts

# villa: `make run` serves the app, `make test` runs the whole suite. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export HOST PORT

.PHONY: run test lint format bench loadtest i18n clean

$(BIN)/villa: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.dev: $(BIN)/villa
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

run: $(BIN)/villa
	$(BIN)/villa init
	$(BIN)/villa demo --if-empty
	$(BIN)/villa serve

# The suite runs on every CPU (pytest-xdist); TEST_WORKERS=0 runs it in this one process.
TEST_WORKERS ?= auto
test: $(VENV)/.dev
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

i18n: $(VENV)/.dev
	$(BIN)/pybabel extract -F babel.cfg -k _l --no-location -o villa/translations/messages.pot .
	$(BIN)/pybabel update -i villa/translations/messages.pot -d villa/translations -l zh_Hans --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d villa/translations

# `make bench`: seed BENCH_CUSTOMERS customers into a temporary instance, serve it with gunicorn and
# drive each hot endpoint with wrk for BENCH_SECONDS at BENCH_CONNECTIONS connections (bench/README.md).
# BENCH_SMOKE=1 checks the harness only (CI); BENCH_ARGS passes more options (e.g. --keep).
# BENCH_DATABASE_URL=postgresql://… seeds and serves PostgreSQL instead, in a schema of its own.
BENCH_CUSTOMERS ?= 100000
BENCH_SECONDS ?= 10
BENCH_CONNECTIONS ?= 16
bench: $(BIN)/villa
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing wrk (apt-get install wrk)"; \
	    apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }; \
	  else \
	    echo "make bench needs wrk, the load generator: run 'sudo apt-get install wrk', then make bench again" >&2; \
	    exit 1; \
	  fi; }
	@command -v wrk >/dev/null 2>&1 || { echo "wrk could not be installed with apt-get" >&2; exit 1; }
	$(BIN)/python bench/run.py --customers $(BENCH_CUSTOMERS) --seconds $(BENCH_SECONDS) \
	  --connections $(BENCH_CONNECTIONS) $(if $(filter 1,$(BENCH_SMOKE)),--smoke) $(BENCH_ARGS)

# `make loadtest`: the office day (bench/loadtest.py, locust): seed LOADTEST_CUSTOMERS customers, serve
# with gunicorn, ramp simulated staff through LOADTEST_STEPS until an action's p95 passes 150 ms or
# fails; reports the capacity. LOADTEST_DATABASE_URL=postgresql://... runs on PostgreSQL;
# LOADTEST_SMOKE=1 is a short check of the harness (CI). bench/README.md.
LOADTEST_CUSTOMERS ?= 20000
LOADTEST_STEPS ?= 25,50,100,200,300,400
LOADTEST_STEP_SECONDS ?= 60
export LOADTEST_DATABASE_URL LOADTEST_INSTANCE LOADTEST_WORKERS
loadtest: $(VENV)/.dev
	$(BIN)/python bench/loadtest.py --customers $(LOADTEST_CUSTOMERS) --steps $(LOADTEST_STEPS) \
	  --step-seconds $(LOADTEST_STEP_SECONDS) $(if $(filter 1,$(LOADTEST_SMOKE)),--smoke) $(LOADTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache

# villa: `make run` serves the app, `make test` runs the whole suite. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export HOST PORT

.PHONY: run test lint format bench i18n clean

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

test: $(VENV)/.dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

i18n: $(VENV)/.dev
	$(BIN)/pybabel extract -F babel.cfg -k _l -o villa/translations/messages.pot .
	$(BIN)/pybabel update -i villa/translations/messages.pot -d villa/translations -l zh_Hans --no-fuzzy-matching
	$(BIN)/pybabel compile -d villa/translations

clean:
	rm -rf $(VENV) .pytest_cache

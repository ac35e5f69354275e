# Two commands do all set-up on a fresh machine with Python 3.11 and make:
#   make demo   install into .venv, create the database, load the demo data, serve on :8000
#   make test   the whole suite, on SQLite and again on PostgreSQL when it answers
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/keel
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install demo test test-sqlite test-postgres lint bench serve clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip "setuptools>=68,<81" wheel
	# XStatic-Bootstrap ships only an sdist whose setup imports pkg_resources, which newer
	# setuptools dropped; build it against the setuptools installed just above.
	$(BIN)/python -m pip install --quiet --no-build-isolation "XStatic-Bootstrap>=5.3,<5.4"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	KEEL_DEBUG=$${KEEL_DEBUG:-0} KEEL_INSECURE_HTTP=1 $(BIN)/keel demo

serve: $(STAMP)
	KEEL_INSECURE_HTTP=1 $(BIN)/keel serve

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy src

test: $(STAMP) lint test-sqlite test-postgres

test-sqlite: $(STAMP)
	$(BIN)/pytest

# PostgreSQL runs when it answers; under CI (CI=true) it must answer.
test-postgres: $(STAMP)
	@if $(BIN)/python -m keel.checks postgres "$(PG_TEST_URL)"; then \
		KEEL_TEST_DATABASE_URL="$(PG_TEST_URL)" $(BIN)/pytest; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL does not answer at $(PG_TEST_URL); CI needs it" >&2; exit 1; \
	else \
		echo "PostgreSQL does not answer at $(PG_TEST_URL): skipping the PostgreSQL pass"; \
	fi

bench: $(STAMP)
	$(BIN)/keel bench

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache

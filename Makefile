# Two commands do all set-up on a fresh machine with Python 3.11 and make:
#   make demo   install into .venv, create the database, load the demo data, serve on :8000
#   make test   the whole suite, on SQLite and again on PostgreSQL when it answers
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/keel
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install demo test test-sqlite test-postgres lint audit bench soak serve clean

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

# Known vulnerabilities in the installed dependencies fail the build (pip-audit against
# PyPI's vulnerability data; Keel itself, installed editable, is left out). Where that data
# cannot be reached at all the audit says loudly that it audited nothing and passes, unless
# AUDIT_REQUIRED=1.
audit: $(STAMP)
	$(BIN)/python -m keel.ops.dependency_audit $(if $(filter 1,$(AUDIT_REQUIRED)),--require-service)

test: $(STAMP) lint audit test-sqlite test-postgres

# One test process per core (pytest-xdist): each has its own test database.
PYTEST_WORKERS ?= auto

test-sqlite: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS)

# PostgreSQL runs when it answers; under CI (CI=true) it must answer.
test-postgres: $(STAMP)
	@if $(BIN)/python -m keel.checks postgres "$(PG_TEST_URL)"; then \
		KEEL_TEST_DATABASE_URL="$(PG_TEST_URL)" $(BIN)/pytest -n $(PYTEST_WORKERS); \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL does not answer at $(PG_TEST_URL); CI needs it" >&2; exit 1; \
	else \
		echo "PostgreSQL does not answer at $(PG_TEST_URL): skipping the PostgreSQL pass"; \
	fi

bench: $(STAMP)
	$(BIN)/keel bench

# The long fault campaign, nightly: SOAK_SEEDS kills (SIGKILL, and on PostgreSQL dropped
# connections) per job at seeded points of a bulk import, an earnings batch and a gift run,
# and two `keel serve` on one database for SOAK_SERVE_SECONDS; on SQLite, then PostgreSQL.
# The suite runs the same tests with 3 seeds and 10 seconds (tests/faults).
SOAK_SEEDS ?= 200
SOAK_SERVE_SECONDS ?= 60
# Then the load test (keel.loadtest, docs/operations.md): SOAK_LOAD_MINUTES of mixed traffic
# from SOAK_LOAD_USERS Locust users against `keel serve --workers 4` and `keel tasks` on a
# fresh PostgreSQL database; any failed request, 5xx or ledger problem fails it. The JSON
# result goes to SOAK_LOAD_OUT when set. `keel bench --load` runs 1.5 minutes, the suite
# about 20 seconds (tests/load).
SOAK_LOAD_MINUTES ?= 10
SOAK_LOAD_USERS ?= 20
SOAK_LOAD_OUT ?=
soak: $(STAMP)
	KEEL_SOAK_SEEDS=$(SOAK_SEEDS) KEEL_SOAK_SERVE_SECONDS=$(SOAK_SERVE_SECONDS) $(BIN)/pytest tests/faults
	@if $(BIN)/python -m keel.checks postgres "$(PG_TEST_URL)"; then \
		KEEL_SOAK_SEEDS=$(SOAK_SEEDS) KEEL_SOAK_SERVE_SECONDS=$(SOAK_SERVE_SECONDS) \
		KEEL_TEST_DATABASE_URL="$(PG_TEST_URL)" $(BIN)/pytest tests/faults; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL does not answer at $(PG_TEST_URL); CI needs it" >&2; exit 1; \
	else \
		echo "PostgreSQL does not answer at $(PG_TEST_URL): skipping the PostgreSQL soak"; \
	fi
	@if $(BIN)/python -m keel.checks postgres "$(PG_TEST_URL)"; then \
		KEEL_BENCH_DATABASE_URL="$(PG_TEST_URL)" $(BIN)/keel bench --load --backend postgres \
			--minutes $(SOAK_LOAD_MINUTES) --users $(SOAK_LOAD_USERS) \
			$(if $(SOAK_LOAD_OUT),--out $(SOAK_LOAD_OUT)); \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL does not answer at $(PG_TEST_URL); CI needs it" >&2; exit 1; \
	else \
		echo "PostgreSQL does not answer at $(PG_TEST_URL): skipping the load test"; \
	fi

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache

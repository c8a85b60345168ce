# `make run` and `make test` set everything up on a fresh machine with Python 3.11+ and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
INSTALLED := $(VENV)/.installed-stamp
ARGS ?=

.PHONY: help install run serve test faults lint lint-api format migrations lock clean

help:
	@echo "make run    set up, migrate, load the seed and serve on 127.0.0.1:$(PORT)"
	@echo "make test   set up and run the tests (SQLite, or DATABASE_URL's database)"
	@echo "make faults fault scenarios against gunicorn (needs DATABASE_URL=postgres://...)"
	@echo "make lint   ruff check and format check"
	@echo "make lint-api  dump the OpenAPI schema and lint it (openapi-spec-validator, Spectral)"
	@echo "make lock   re-pin constraints.txt from pyproject's ranges"

# Reinstalls when the dependencies change.
$(INSTALLED): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Python 3.11 or newer is needed (PYTHON=$(PYTHON))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $@

install: $(INSTALLED)

run: install
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py load_seed
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py create_local_superuser
	@# The hourly digest run: planned once here, then each run plans the next.
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py schedule_digests
	@# The daily pruning of old deliveries and task results (03:30): planned once here, then
	@# each run plans the next.
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py prune_webhooks --schedule
	@# One background worker beside the web server (webhooks, digests, pruning), and every
	@# minute the webhooks' safety net: a delivery run planned for whatever waits (a run lost
	@# with a killed worker, say). All stop together.
	@trap 'kill 0' INT TERM EXIT; \
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py db_worker --queue-name '*' --reload & \
	while :; do DEBUG=$${DEBUG:-1} $(BIN)/python manage.py deliver_webhooks --plan --verbosity 0; \
		sleep 60; done & \
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# One worker per core (pytest-xdist). Whole files go to one worker: tests of one file share
# their served app and browser, and the served suite's last test checks what its file called.
TEST_WORKERS ?= auto
test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(ARGS)

# Kills workers, cuts connections and restarts the PostgreSQL cluster: a separate step.
faults: install
	$(BIN)/python -m pytest -m faults tests/faults $(ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The schema as served, checked by drf-spectacular, openapi-spec-validator and Spectral
# (npm packages pinned in tools/package-lock.json, installed in tools/node_modules).
lint-api: install tools/node_modules/.installed-stamp
	mkdir -p var
	$(BIN)/python manage.py spectacular --file var/openapi.yaml --validate --fail-on-warn
	$(BIN)/openapi-spec-validator var/openapi.yaml
	cd tools && npx --no-install spectral lint --ruleset spectral.yaml --fail-severity warn \
		../var/openapi.yaml

tools/node_modules/.installed-stamp: tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrations: install
	DEBUG=1 $(BIN)/python manage.py makemigrations $(ARGS)

# Pins every package of a fresh install within pyproject's ranges.
lock:
	rm -rf var/lock-venv
	$(PYTHON) -m venv var/lock-venv
	var/lock-venv/bin/python -m pip install --quiet --upgrade pip
	var/lock-venv/bin/python -m pip install --quiet -e ".[dev]"
	var/lock-venv/bin/python -m pip freeze --exclude-editable | sort -f > constraints.txt
	rm -rf var/lock-venv

clean:
	rm -rf $(VENV) var/static .pytest_cache tools/node_modules

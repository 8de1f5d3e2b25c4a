# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PO := $(wildcard bot/i18n/locales/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)

.PHONY: run test lint lock i18n i18n-extract bench bench-booking bench-results bench-certificates bench-scheduler bench-broadcast bench-children bench-console probes clean

run: $(STAMP) $(MO)  ## run the whole service on embedded defaults (SQLite, web chat on :8080)
	$(BIN)/python run_bot.py serve

test: $(STAMP) $(MO) lint  ## ruff, mypy and the whole suite (PostgreSQL too if TEST_DATABASE_URL)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP) $(MO)  ## inbound throughput: the bot against bare PTB echo bots
	$(BIN)/python -m bench.inbound

bench-booking: $(STAMP)  ## bookings under contention on SQLite and PostgreSQL, vs a plain INSERT
	$(BIN)/python -m bench.booking

bench-results: $(STAMP) $(MO)  ## results import and push, SQLite and PostgreSQL, vs plain INSERTs
	$(BIN)/python -m bench.results

bench-certificates: $(STAMP) $(MO)  ## DCC signing, QR rendering, first vs cached photo send
	$(BIN)/python -m bench.certificates

bench-scheduler: $(STAMP)  ## scheduler ticks with 10k vs 1M jobs, SQLite and PostgreSQL, vs plain INSERTs
	$(BIN)/python -m bench.scheduler

bench-broadcast: $(STAMP) $(MO)  ## 100,000-recipient broadcast at 1000/s and 30/s, restarts
	$(BIN)/python -m bench.broadcast

bench-children: $(STAMP)  ## children's due lists (a ward of 5,000, a city of 1M) vs a plain SELECT; reminders queued
	$(BIN)/python -m bench.children

bench-console: $(STAMP)  ## the staff dashboard's refresh at 1M bookings, one ward vs the city, vs COUNT(*)
	$(BIN)/python -m bench.console

probes: $(STAMP) $(MO)  ## security probes: the review's attacks replayed and counted (docs/security.md)
	$(BIN)/python -m bench.probes

i18n-extract: $(STAMP)  ## refresh the catalogs from the source after changing strings
	mkdir -p var
	$(BIN)/pybabel -q extract -F pyproject.toml -k _ -k N_ --no-location --sort-output \
		--add-comments=Translators: --project=citizen-health-bot -o var/messages.pot bot
	$(BIN)/pybabel -q update -i var/messages.pot -d bot/i18n/locales \
		--ignore-obsolete --width 99
	$(BIN)/python -m bot.i18n.sync_english

%.mo: %.po $(STAMP)
	$(BIN)/pybabel -q compile -i $< -o $@

# Everything is installed from lock files with hashes (docs/dependencies.md): pip refuses a
# file whose hash is not in them. The project itself is installed last, without dependencies.
LOCK := requirements.lock
# vietnam-provinces (administrative divisions after the 1/7/2025 reform, with the mapping from
# the old ones) declares Python >= 3.12 but runs on 3.11 (its test suite in tests/test_vn_
# divisions.py says so); it has no dependencies, so it is pinned and installed on its own.
DIVISIONS_LOCK := requirements-divisions.lock

$(STAMP): pyproject.toml $(LOCK) $(DIVISIONS_LOCK) Makefile
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r $(LOCK)
	$(BIN)/pip install -q --require-hashes --no-deps --ignore-requires-python -r $(DIVISIONS_LOCK)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Pin the dependencies of pyproject.toml again, with hashes, after changing them there. Pins
# still allowed are kept; LOCK_FLAGS=--upgrade moves every package to its newest allowed
# release, LOCK_FLAGS="--upgrade-package aiohttp" one of them.
LOCK_TOOLS := var/lock-tools
lock:  ## write requirements.lock from pyproject.toml (docs/dependencies.md)
	test -d $(LOCK_TOOLS) || $(PYTHON) -m venv $(LOCK_TOOLS)
	$(LOCK_TOOLS)/bin/pip install -q 'pip-tools>=7.4,<8'
	$(LOCK_TOOLS)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --extra dev \
		--all-build-deps --strip-extras --no-emit-index-url --no-emit-find-links \
		$(LOCK_FLAGS) --output-file $(LOCK) pyproject.toml

clean:
	rm -rf $(VENV) $(MO) .mypy_cache .pytest_cache .ruff_cache

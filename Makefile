# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: run test test-postgres faults install migrate bench deploy-check compose-check clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

## Web server (http://127.0.0.1:$(PORT)) and the Django-Q2 worker together. Ctrl-C stops
## them all within ~8 s: anything still running then is killed (scripts/run-dev.sh).
run: migrate
	PORT=$(PORT) PY=$(PY) scripts/run-dev.sh

## The whole suite (SQLite unless DATABASE_URL says otherwise).
test: install
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/pytest

test-postgres: install
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/agentsite} $(VENV)/bin/pytest

## Only the tests that inject a fault (@pytest.mark.fault), with the fault table.
faults: install
	$(VENV)/bin/pytest -m fault

## Issue 12's figures (needs PostgreSQL and Redis on 127.0.0.1; ~15 min at full scale):
## every bench script in order, each printing `figure | agentsite | reference | target | met?`.
## BENCH_ARGS_HISTORY="--scale 0.1" makes the history run quick. See bench/README.md.
BENCH_SCRIPTS := bench/budget_check.py bench/cycle_overhead.py bench/history_scaling.py \
	bench/webhook_ingest.py bench/prompt_cache.py bench/pacing_day.py bench/parse_adversarial.py
BENCH_ARGS_HISTORY ?=

$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $@

bench: $(VENV)/.bench-installed
	@set -e; for script in $(BENCH_SCRIPTS); do \
		echo "### $$script"; \
		case $$script in \
			*history_scaling.py) $(PY) $$script $(BENCH_ARGS_HISTORY) ;; \
			*) $(PY) $$script ;; \
		esac; \
	done

## The compose deployment's shape without Docker (needs PostgreSQL and Redis on
## 127.0.0.1; ~5 min): gunicorn + two qcluster, a cluster killed mid-cycle, figures at the end.
deploy-check: install
	$(PY) bench/deploy_run.py

## docker-compose.yml as Compose sees it (needs docker-compose or docker compose).
compose-check:
	DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-compose-check-only-$$(date +%s)} docker-compose config -q

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache

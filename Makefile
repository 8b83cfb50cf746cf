# facilitator — the two commands a fresh machine needs are `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip -q --disable-pip-version-check

.PHONY: run test lint bench bench-aggregate bench-weight clean

$(VENV)/.runtime: requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PIP) install -r requirements-dev.txt
	@touch $@

# axe-core (accessibility checks in the browser tests) from the npm registry, pinned by
# package-lock.json into node_modules/ (git-ignored); the tests inject it, pages never load it.
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "needs npm (Debian: apt-get install npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## make run: create the venv, install, serve on port 5000 with an embedded SQLite database
run: $(VENV)/.runtime
	$(PY) -m facilitator serve $(ARGS)

## make test: install what the tests need, then ruff and the whole pytest suite
test: $(VENV)/.dev node_modules/.installed
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

## make bench: load benchmark against the bare-stack floor, then the attack benchmark;
## both write bench/RESULTS.md (each its own section)
bench: $(VENV)/.dev
	$(PY) bench/aggregate.py
	$(PY) bench/run_all.py
	$(PY) bench/board.py --results bench/RESULTS.md
	$(PY) bench/attacks.py --markdown

## make bench-weight: the phone's page weight with Chromium, into bench/RESULTS.md
bench-weight: $(VENV)/.dev
	$(PY) bench/page_weight.py

bench-aggregate: $(VENV)/.dev
	$(PY) bench/aggregate.py

clean:
	rm -rf $(VENV) build .pytest_cache .hypothesis node_modules

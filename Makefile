# The README's commands. Each bootstraps .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO_DIR ?= demo-workspace

LINT_PATHS := journeymap tests benchmarks

PORT ?= 8000

.PHONY: demo serve test lint contracts bench clean venv axe

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev,spark,nlp,web]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m journeymap demo $(DEMO_DIR) --force
	@echo "Serve it to your team: make serve   (= $(PY) -m journeymap -w $(DEMO_DIR) serve --port $(PORT)); log in with the demo login above"

# The shared web map of the demo workspace (make demo first), on http://127.0.0.1:$(PORT)/
serve: $(STAMP)
	@test -f $(DEMO_DIR)/journeymap.toml || { echo "No demo workspace in $(DEMO_DIR); run: make demo" >&2; exit 1; }
	$(PY) -m journeymap -w $(DEMO_DIR) serve --port $(PORT)

# axe-core for the accessibility tests (test-only npm devDependency; the report never loads it).
axe:
	@test -f node_modules/axe-core/axe.min.js || { command -v npm >/dev/null 2>&1 \
	  && npm ci --no-audit --no-fund --silent; } \
	  || echo "note: axe-core not installed (needs npm); accessibility tests will skip" >&2

# The layer contracts of DESIGN.md ([tool.importlinter] in pyproject.toml); part of the tests.
contracts: $(STAMP)
	$(VENV)/bin/lint-imports --no-logo

# Two workers, each test file on one (its module fixtures and Chromium stay together): 7.8 min on 2 cores
# against 12.2 min in one process
test: $(STAMP) axe contracts
	$(PY) -m pytest -n 2 --dist loadfile

# Every tool runs; then one line per tool that failed, and a non-zero exit.
lint: $(STAMP)
	@failed=""; \
	$(PY) -m ruff check $(LINT_PATHS) || failed="$$failed\nmake lint: FAILED ruff check (findings above; many fix with: ruff check --fix $(LINT_PATHS))"; \
	RUFF_OUTPUT_FORMAT=concise $(PY) -m ruff format --check $(LINT_PATHS) || failed="$$failed\nmake lint: FAILED ruff format --check (files above; fix with: ruff format $(LINT_PATHS))"; \
	$(PY) -m mypy journeymap || failed="$$failed\nmake lint: FAILED mypy journeymap (type errors above)"; \
	$(VENV)/bin/lint-imports --no-logo || failed="$$failed\nmake lint: FAILED lint-imports (broken layer contracts above; [tool.importlinter] in pyproject.toml)"; \
	if [ -n "$$failed" ]; then printf '%b\n' "$$failed" >&2; exit 1; fi; \
	echo "make lint: ruff check, ruff format --check, mypy and lint-imports all pass"

bench: $(STAMP)
	$(PY) benchmarks/ingest.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache

# The README's commands. Each bootstraps .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO_DIR ?= demo-workspace

.PHONY: demo test lint bench clean venv axe

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev,spark,nlp]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m journeymap demo $(DEMO_DIR) --force

# axe-core for the accessibility tests (test-only npm devDependency; the report never loads it).
axe:
	@test -f node_modules/axe-core/axe.min.js || { command -v npm >/dev/null 2>&1 \
	  && npm ci --no-audit --no-fund --silent; } \
	  || echo "note: axe-core not installed (needs npm); accessibility tests will skip" >&2

test: $(STAMP) axe
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check journeymap tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/ingest.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache

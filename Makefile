# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test test-dates lint venv clean

# (Re)install whenever pyproject.toml changes; the stamp keeps repeat runs fast.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(PY) -m bot db upgrade
	$(PY) -m bot run

test: $(STAMP)
	$(PY) -m pytest -q
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports

# The date-dependent tests again under libfaketime (Debian's `faketime`) on days years away:
# an offset from now, so every process (the CLI's too) sees the same faked time.
DATES ?= 2027-06-15 2029-02-28
test-dates: $(STAMP)
	@command -v faketime >/dev/null || { echo "test-dates needs faketime (apt-get install faketime)"; exit 1; }
	@set -e; for day in $(DATES); do \
	  offset=$$(( $$(date -d "$$day $$(date +%T)" +%s) - $$(date +%s) )); \
	  echo "== $$day (faketime +$${offset}s)"; \
	  faketime -f "+$${offset}s" $(PY) -m pytest -q -m dated -p no:cacheprovider; \
	done

lint: $(STAMP)
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Proofline — `make demo` and `make test` set everything up themselves.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
DB      ?= proofline.duckdb

.PHONY: demo test lint format bench eval serve clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/proofline demo --db $(DB)

serve: $(STAMP)
	@test -f $(DB) || { $(BIN)/proofline seed --db $(DB) && $(BIN)/proofline sense --db $(DB) >/dev/null; }
	@echo "Demo API keys, one per role (shown once; paste one into the console):"
	@for role in ops_manager contact_center automation auditor; do \
		$(BIN)/proofline keys create --db $(DB) --role $$role --name "make serve ($$role)" || exit 1; \
	done
	@echo "Console: http://127.0.0.1:8000/    API docs: http://127.0.0.1:8000/docs"
	$(BIN)/proofline serve --db $(DB) --host 127.0.0.1 --port 8000

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/sense.py

clean:
	rm -rf $(VENV) $(DB) $(DB).wal .pytest_cache .mypy_cache .ruff_cache

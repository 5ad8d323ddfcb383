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

# Every benchmark in turn (about 6-8 minutes on 2 cores; seeded networks are kept in
# /tmp/proofline-bench and reused), then bench/RESULTS.md. Exits 1 if any exited non-zero.
bench: $(STAMP)
	@mkdir -p /tmp/proofline-bench; start=$$(date +%s); failed=""; \
	for b in sense.py gate.py "recall.py --db /tmp/proofline-bench/scale-20.duckdb" \
	         triage.py llm_economy.py growth.py; do \
		t=$$(date +%s); echo "== bench/$$b"; \
		$(BIN)/python bench/$$b || failed="$$failed $${b%% *}"; \
		echo "== bench/$$b: $$(( $$(date +%s) - t )) s"; \
	done; \
	$(BIN)/python bench/report.py --elapsed-s $$(( $$(date +%s) - start )); \
	echo "make bench: $$(( $$(date +%s) - start )) s"; \
	test -z "$$failed" || { echo "exited non-zero (a failure, or recall over target):$$failed"; exit 1; }

eval: $(STAMP)
	$(BIN)/proofline eval --report reports/eval

clean:
	rm -rf $(VENV) $(DB) $(DB).wal .pytest_cache .mypy_cache .ruff_cache

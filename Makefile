# Alur: `make demo` sets up and runs Alur on SQLite with the seed SOPs; `make test` sets up and runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench bench-quick clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

# Browser tests drive Debian's Chromium; a browser download by a test tool is blocked on these machines.
/usr/bin/chromium:
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "Chromium is missing: run 'sudo apt-get install chromium' (Debian) and try again" >&2; exit 1; fi

setup: $(BIN)/.installed node_modules/.installed

demo: setup
	$(BIN)/alur demo

# The suite runs in TEST_WORKERS processes (pytest-xdist), a test file at a time each, so a file's module-scoped
# fixtures (servers, browsers) start once. Every test has its own database, schema, folder and ports.
TEST_WORKERS ?= 2

test: setup /usr/bin/chromium
	$(BIN)/ruff check engine adapters forms webui bench tests tools bpmn
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

# Benchmarks (bench/README.md): one after another, each on an otherwise idle machine; results in bench/results/.
BENCHES := bench_step bench_case bench_web bench_inbox bench_timers bench_deploy bench_memory

bench: setup
	@for b in $(BENCHES); do echo "== $$b"; $(BIN)/python bench/$$b.py || exit 1; done

bench-quick: setup
	@for b in $(BENCHES); do echo "== $$b"; $(BIN)/python bench/$$b.py --quick || exit 1; done

clean:
	rm -rf $(VENV) node_modules data

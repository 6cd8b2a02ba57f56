# Alur: `make demo` sets up and runs Alur on SQLite with the seed SOPs; `make test` sets up and runs every test.
# The virtual environment is made from the system's own Python 3 when it is 3.11 or newer and can make one:
# Debian's is built with profile-guided and link-time optimisation, and a Python built by pyenv without
# --enable-optimizations (python3 on these machines' PATH) ran a step of the web UI about a fifth slower
# (bench/README.md). Else python3 on the PATH; `make setup PYTHON=/path/to/python3` chooses.
SYSTEM_PYTHON_OK := $(shell /usr/bin/python3 -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && echo yes)
PYTHON ?= $(if $(SYSTEM_PYTHON_OK),/usr/bin/python3,python3)
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

# The two commands of the README: `make run` and `make test`.
# Both install exactly the locked set (uv.lock, ADR 0009) into .venv. uv itself and pip are
# the newest releases, installed into .venv-tools, the only thing made with the system Python.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
TOOLS := .venv-tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synced-stamp
PORT ?= 8000
# Never download an interpreter: the project runs on the machine's Python 3.11.
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test lint lock bench-setup bench-sessions bench-edge bench-bus bench-reserve bench-onsale bench-capacity bench-lean profile-deps bench-expiry bench-door bench-footprint bench-peer bench-deps browser-deps split

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip uv

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --extra test --python $(PYTHON)
	touch $(STAMP)

run: $(STAMP)  ## set up, migrate and serve on http://127.0.0.1:$(PORT), reloading on change
	$(BIN)/ticketing serve --reload --port $(PORT)

lock: | $(UV)  ## refresh uv.lock on purpose: newest releases the pyproject ranges allow
	$(UV) lock --upgrade

browser-deps:  ## Debian's chromium for the browser tests (never a downloaded browser)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing and not root: browser tests will be skipped"; fi; }

test: $(STAMP) browser-deps  ## set up and run the whole suite (PostgreSQL too when CI=true)
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy

bench-deps:  ## wrk, the load generator of the HTTP benchmarks (Debian's package)
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

bench-bus: $(STAMP)  ## outbox -> effect events/s and commit -> effect lag, both transports and databases
	$(BIN)/python -m bench.bus

bench-reserve: $(STAMP) bench-deps  ## orders/s and latency vs a bare-insert ceiling; sell-out rush
	$(BIN)/python -m bench.reserve

bench-onsale: $(STAMP) bench-deps  ## 1,000 tickets, 10,000 buyers in 10 s: queue vs direct, both databases
	$(BIN)/python -m bench.onsale

bench-capacity: $(STAMP) bench-deps  ## CPU per reservation of each split process, and the pods for 10,000/s
	$(BIN)/python -m bench.capacity

bench-peer: $(STAMP) bench-deps  ## pretix (its own venv, from PyPI) vs ours: same quota, same on-sale load, same run
	$(BIN)/python -m bench.peer

bench-lean: $(STAMP) bench-deps  ## one reservation and its whole saga: CPU vs a bare insert, p99 at 200, 1,000,000 orders
	$(BIN)/python -m bench.lean

profile-deps: | $(UV)  ## py-spy, for `python -m bench.lean --profile DIR` (a tool, not a dependency)
	$(TOOLS)/bin/python -m pip install --quiet py-spy

bench-expiry: $(STAMP)  ## 10,000 orders expiring within a minute: lateness, idle scheduler CPU
	$(BIN)/python -m bench.expiry

bench-door: $(STAMP)  ## check-ins of 5,000 passes vs ticket reads; re-scans all 409; the door list's size
	$(BIN)/python -m bench.door

split: $(STAMP)  ## NATS + one process per module (8001-8006) behind an Ingress-like router on :8000
	$(BIN)/python deploy/split.py

bench-footprint: $(STAMP)  ## start-up time and idle memory of one process vs a bare Quart app
	$(BIN)/python -m bench.footprint

bench-setup:  ## the README's two commands on a fresh clone: until serving, until tests start
	$(PYTHON) -m bench.setup

bench-sessions: $(STAMP)  ## what the ended-session check costs per request vs reading the cookie alone
	$(BIN)/python -m bench.sessions

bench-edge: $(STAMP) bench-deps  ## the bounded h11 edge vs uvicorn's unbounded httptools, same app
	$(BIN)/python -m bench.edge

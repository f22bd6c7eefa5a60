# Two commands: `make run` serves the API with demo data, `make test` runs the whole suite.
# Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
HOST   ?= 127.0.0.1

.PHONY: run test lint bench chaos install clean

# The interactive API docs' scripts and styles (Swagger UI, ReDoc) are served by the app itself, never from a CDN:
# fetched here, at install time, from the npm registry at pinned versions, each tarball checked against its recorded
# integrity, into marketplace/static/apidocs/ (not in git; served at /schema/assets/).
SWAGGER_UI      := swagger-ui-dist-5.35.0
SWAGGER_UI_HASH := sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==
REDOC           := redoc-2.5.4
REDOC_HASH      := sha512-M6jWhG1qoBnH6TFmzJnstyCZ87HmOY/UzDm78mHiYihEdlV/YcS9ogOo1NlElnJMeLsyxHFe2yFc4sNjHTrABQ==
APIDOCS         := marketplace/static/apidocs
APIDOCS_STAMP   := $(APIDOCS)/.fetched-$(SWAGGER_UI)-$(REDOC)
SRI             := $(PYTHON) -c "import base64, hashlib, sys; \
                   print('sha512-' + base64.b64encode(hashlib.sha512(open(sys.argv[1], 'rb').read()).digest()).decode())"

# Debian packages the project needs ($(call APT_INSTALL,pkg ...)): installed with apt-get, as root or else through
# sudo; the package lists are updated (and the install tried again) only when the first try fails.
APT_GET     = env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends
APT_INSTALL = if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
              $$SUDO $(APT_GET) $(1) || { $$SUDO apt-get update && $$SUDO $(APT_GET) $(1); }

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed-run

$(APIDOCS_STAMP):
	@command -v npm >/dev/null || { $(call APT_INSTALL,npm); }
	rm -rf $(APIDOCS) && mkdir -p $(APIDOCS)/.npm $(APIDOCS)/swagger-ui $(APIDOCS)/redoc
	cd $(APIDOCS)/.npm && npm pack --silent --cache . $(subst -dist-,-dist@,$(SWAGGER_UI)) $(subst -,@,$(REDOC)) >/dev/null
	test "$$($(SRI) $(APIDOCS)/.npm/$(SWAGGER_UI).tgz)" = "$(SWAGGER_UI_HASH)"
	test "$$($(SRI) $(APIDOCS)/.npm/$(REDOC).tgz)" = "$(REDOC_HASH)"
	tar -xzf $(APIDOCS)/.npm/$(SWAGGER_UI).tgz -C $(APIDOCS)/swagger-ui --strip-components=1 \
	    package/swagger-ui-bundle.js package/swagger-ui-standalone-preset.js package/swagger-ui.css \
	    package/favicon-32x32.png package/LICENSE
	tar -xzf $(APIDOCS)/.npm/$(REDOC).tgz -C $(APIDOCS)/redoc --strip-components=2 \
	    package/bundles/redoc.standalone.js package/bundles/redoc.standalone.js.LICENSE.txt
	rm -rf $(APIDOCS)/.npm
	@touch $@

# The browser tests (tests/browser) drive Debian's chromium through its chromedriver: installed once, with apt-get
# (as root, else through sudo), when the driver is missing.
CHROMEDRIVER := /usr/bin/chromedriver
$(CHROMEDRIVER):
	@$(call APT_INSTALL,chromium chromium-driver)

install: $(VENV)/.installed-run $(APIDOCS_STAMP)

run: $(VENV)/.installed-run $(APIDOCS_STAMP)
	$(BIN)/marketplace serve --host $(HOST) --port $(PORT)

# pytest-xdist: a worker per core (at most 4), each with its own embedded PostgreSQL; tests handed out one at a time,
# the longest first (tests/conftest.py: LONGEST_FIRST). PYTEST_ARGS='-n 0' runs the suite in one process.
test: lint $(APIDOCS_STAMP) $(CHROMEDRIVER)
	$(BIN)/python -m pytest -n auto --maxprocesses 4 --maxschedchunk 1 $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The benchmark's load generator for the read scenarios: Debian's wrk, installed once as chromium is (bench/run.py
# falls back to its own asyncio client without it, which saturates long before the server does).
WRK := /usr/bin/wrk
$(WRK):
	@$(call APT_INSTALL,wrk)

bench: $(VENV)/.installed-test $(APIDOCS_STAMP) $(WRK)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

chaos: $(VENV)/.installed-test
	$(BIN)/python bench/chaos.py $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis $(APIDOCS)

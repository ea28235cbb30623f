# berth: `make serve` runs the registry on the embedded default; `make test` installs what the tests
# need (Debian packages and Python packages) and runs the whole suite on SQLite and on PostgreSQL.
# Run as root on Debian 12.

VENV ?= .venv
# Debian's own Python 3.11 when it can make a venv (python3-venv): built with PGO and LTO, libpython linked in
# statically, it runs `berth run` about 6 ms (7 %) faster than a shared-library build such as pyenv's.
PYTHON ?= $(shell /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null && echo /usr/bin/python3 || echo python3)
APT_TEST_PACKAGES := skopeo umoci busybox-static docker.io podman buildah runc crun docker-registry wrk postgresql chromium nginx docker-compose

# Python may keep compiled modules: with PYTHONDONTWRITEBYTECODE set (as some machines do), every
# registry, worker and berth process the tests start would compile berth's modules again, and pytest would
# rewrite every test module again in each pass.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: serve test test-sqlite test-postgresql install install-test bench

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# Editable installs put the checkout on sys.path (compat mode), not setuptools' import finder: that finder
# imports pathlib, re, urllib.parse and importlib.util in every Python process the venv starts, before berth
# runs a line (a few ms of each `berth run`).
EDITABLE := --config-settings editable_mode=compat

install: $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(EDITABLE) -e .

serve: install
	$(VENV)/bin/berth-registry serve

install-test: $(VENV)/bin/python
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(APT_TEST_PACKAGES)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(EDITABLE) -e '.[test]'

# The suite runs on SQLite and, at the same time, again with every registry on PostgreSQL (a private
# cluster the tests start themselves; that pass leaves out what tests/conftest.py lists). Side by side
# because much of each pass waits on real clients and servers: together they fit CI's 20 minutes on
# 2 cores. The PostgreSQL pass's output follows the SQLite pass's; the target fails if either failed.
# BERTH_TEST_BALANCE=1 moves the container, runtime, berth-client, browser and replica suites into the
# PostgreSQL pass, so both take about as long (tests/conftest.py BALANCED). `make test-sqlite` or
# `make test-postgresql` runs one pass (the SQLite one then runs those suites itself); PYTEST_ARGS picks tests.
test: install-test
	@status=0; log=$$(mktemp); export BERTH_TEST_BALANCE=1; \
	$(MAKE) --no-print-directory test-postgresql >$$log 2>&1 & postgresql=$$!; \
	$(MAKE) --no-print-directory test-sqlite || status=1; \
	wait $$postgresql || status=1; \
	echo "===== the PostgreSQL pass ====="; cat $$log; rm -f $$log; \
	exit $$status

test-sqlite:
	BERTH_TEST_DATABASE=sqlite $(VENV)/bin/pytest $(PYTEST_ARGS)

test-postgresql:
	BERTH_TEST_DATABASE=postgresql $(VENV)/bin/pytest $(PYTEST_ARGS)

bench: install-test
	$(VENV)/bin/python bench/registry_bench.py

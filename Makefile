# berth: `make serve` runs the registry on the embedded default; `make test` installs what the tests
# need (Debian packages and Python packages) and runs the whole suite on SQLite and on PostgreSQL.
# Run as root on Debian 12.

VENV ?= .venv
PYTHON ?= python3
APT_TEST_PACKAGES := skopeo umoci busybox-static docker.io podman buildah runc crun docker-registry wrk postgresql chromium nginx docker-compose

.PHONY: serve test test-sqlite test-postgresql install install-test bench

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

install: $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e .

serve: install
	$(VENV)/bin/berth-registry serve

install-test: $(VENV)/bin/python
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(APT_TEST_PACKAGES)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[test]'

# The suite runs on SQLite, then again with every registry on PostgreSQL (a private cluster the tests start
# themselves; that pass leaves out the tests that touch no database). Both passes always run; the target
# fails if either failed. `make test-sqlite` or `make test-postgresql` runs one; PYTEST_ARGS picks tests.
test: install-test
	@status=0; \
	$(MAKE) --no-print-directory test-sqlite || status=1; \
	$(MAKE) --no-print-directory test-postgresql || status=1; \
	exit $$status

test-sqlite:
	BERTH_TEST_DATABASE=sqlite $(VENV)/bin/pytest $(PYTEST_ARGS)

test-postgresql:
	BERTH_TEST_DATABASE=postgresql $(VENV)/bin/pytest $(PYTEST_ARGS)

bench: install-test
	$(VENV)/bin/python bench/registry_bench.py

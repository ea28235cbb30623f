# berth: `make serve` runs the registry on the embedded default; `make test` installs what the tests
# need (Debian packages and Python packages) and runs the whole suite. Run as root on Debian 12.

VENV ?= .venv
PYTHON ?= python3
APT_TEST_PACKAGES := skopeo umoci busybox-static docker.io podman buildah runc crun docker-registry wrk postgresql chromium nginx docker-compose

.PHONY: serve test install install-test bench

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

test: install-test
	$(VENV)/bin/pytest

bench: install-test
	$(VENV)/bin/python bench/registry_bench.py

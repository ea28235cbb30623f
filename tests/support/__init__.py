"""Test infrastructure shared by the end-to-end suites: real processes (the registry, dockerd, podman) and
test images built offline."""

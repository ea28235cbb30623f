"""The local runtime: image store, layer unpacking, OCI bundles and containers (arrives with its issue)."""

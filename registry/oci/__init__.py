"""OCI primitives shared by the registry, the CLI and the runtime: standard library only."""

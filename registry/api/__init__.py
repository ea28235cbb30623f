"""HTTP endpoints: the OCI Distribution API (v2) and, later, the Hub's own APIs."""

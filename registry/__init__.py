"""berth-registry: an OCI Distribution registry with Docker Hub's model on top."""

__version__ = "0.1.0"

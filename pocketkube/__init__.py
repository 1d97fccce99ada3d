"""pocketkube: a Kubernetes-compatible local cluster."""

__version__ = "0.1.0"

"""driftwarden: watch ML feature logs for data drift, the Kubernetes way."""

__version__ = "0.1.0"

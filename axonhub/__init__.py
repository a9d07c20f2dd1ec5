"""AxonHub: a self-hosted AI gateway for coding agents."""

__version__ = "0.1.0"

"""The status collector: records outcomes exactly once and ends finished jobs."""
from status_collector.blueprint import bp

__all__ = ["bp"]

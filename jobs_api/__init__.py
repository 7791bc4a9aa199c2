"""HTTP API: jobs, device groups and health."""
from jobs_api.blueprint import bp

__all__ = ["bp"]

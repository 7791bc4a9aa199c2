"""The operators' console: the jobs workflow in a browser, served at /api/console/."""
from jobs_api.console.blueprint import bp

__all__ = ["bp"]

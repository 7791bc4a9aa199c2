"""Job history retention: archive old jobs' CSVs to Blob Storage, then purge them."""
from retention.blueprint import bp

__all__ = ["bp"]

"""The time the use cases run at; they take a clock as an argument, and this is the real one."""
from datetime import datetime, timezone


def utc_now() -> datetime:
    return datetime.now(timezone.utc)

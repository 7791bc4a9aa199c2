"""The composition root: one lazily built set of collaborators per process.

Triggers ask for `dependencies()`; tests build their own `Connections` with test settings
and pass collaborators to the plain functions instead of patching.
"""
from __future__ import annotations

from functools import lru_cache

from shared.connections import Connections
from shared.settings import Settings


@lru_cache(maxsize=1)
def dependencies() -> Connections:
    return Connections(Settings.from_environ())

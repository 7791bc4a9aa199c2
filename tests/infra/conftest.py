"""Fixtures for the infrastructure tests: the parsed templates, built once per session."""
from __future__ import annotations

import pytest

from tests.infra.bicep import Template


@pytest.fixture(scope="session")
def template() -> Template:
    return Template()

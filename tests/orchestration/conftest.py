"""Fixtures for the Dagster definitions and end-to-end pipeline runs."""

from __future__ import annotations

import pytest

from beacon.schema import migrate
from beacon.schema.db import make_engine
from beacon.settings import get_settings


@pytest.fixture
def pipeline_env(beacon_env, request):
    """A migrated operational DB and an empty warehouse of one shipped back-end pair (see beacon_env)."""
    settings = get_settings()
    migrate.upgrade(settings.operational_url)
    engine = make_engine(settings.operational_url)
    yield engine
    engine.dispose()

"""Fixtures for the shop services' integration tests: event backends to parametrise over, settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shop.testing import nats_namespace


@pytest.fixture(params=["sqlite", pytest.param("nats", marks=pytest.mark.nats)])
async def events_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Every test that takes this runs once on the embedded SQLite log and once on NATS JetStream."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'events.db'}"
    else:
        async with nats_namespace() as url:
            yield url

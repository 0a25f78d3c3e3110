"""Fixtures for gateway tests over real loopback sockets (helpers live in :mod:`.wire`)."""

from __future__ import annotations

import pytest

from .wire import raw_exchange


@pytest.fixture
def raw() -> object:
    return raw_exchange

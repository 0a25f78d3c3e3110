"""A Redis key prefix per test (other suites share the server); the fixtures that open a store
delete its keys with ``delete_prefix`` afterwards."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def redis_prefix() -> str:
    return f"test:portway:rl:{uuid.uuid4().hex}:"

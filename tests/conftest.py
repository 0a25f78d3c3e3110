"""Suite-wide rules: tests marked with a backing service skip when it is unreachable on a laptop,
and fail instead when PORTWAY_REQUIRE_SERVICES=1 (CI), so a CI run can never pass by skipping."""

from __future__ import annotations

import os
import socket

import pytest

SERVICE_PORTS = {"postgres": 5432, "redis": 6379, "nats": 4222}


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def pytest_runtest_setup(item: pytest.Item) -> None:
    required = os.environ.get("PORTWAY_REQUIRE_SERVICES") == "1"
    for marker, port in SERVICE_PORTS.items():
        if item.get_closest_marker(marker) and not _reachable(port):
            message = f"{marker} is not reachable on 127.0.0.1:{port}"
            if required:
                pytest.fail(f"{message} and PORTWAY_REQUIRE_SERVICES=1")
            pytest.skip(message)
    if item.get_closest_marker("root") and os.geteuid() != 0:
        pytest.skip("needs root")

"""What the operations-file tests share: the deploy/ paths, a tool-or-skip rule, and the metric
families a real gateway exports."""

from __future__ import annotations

import os
import shutil
import socket
from typing import Any

import httpx
import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from portway.testing import UpstreamRequest, UpstreamResponse, run_gateway, upstream_server

SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"{name} is not installed (run .ci/install-promtool)"
    if os.environ.get("PORTWAY_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} and PORTWAY_REQUIRE_SERVICES=1")
    pytest.skip(message)


def refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def fails(request: UpstreamRequest) -> UpstreamResponse:
    return UpstreamResponse(503, body=b"down")


async def scrape() -> str:
    """/metrics of a gateway that used every feature with metrics: an upstream with outlier
    detection, a breaker and retries (one target failing), and a Redis rate-limit store that is
    down (its calls fail, and are counted)."""
    async with upstream_server(fails) as sick, upstream_server() as good:
        config: dict[str, Any] = {
            "admin": "127.0.0.1:0",
            "rate_limit_store": {
                "backend": "redis",
                "redis_url": f"redis://127.0.0.1:{refused_port()}/0",
                "on_error": "open",
            },
            "upstreams": {
                "svc": {
                    "targets": [sick.address, good.address],
                    "outlier": {"consecutive_failures": 2, "base_ejection": "30s"},
                    "breaker": {"failures": 2, "cooldown": "30s"},
                    "retries": {"attempts": 2, "on": [503]},
                }
            },
            "routes": [
                {"path": "/", "upstream": "svc", "rate_limit": {"limit": 100, "per": "1m", "key": "route"}}
            ],
        }
        async with run_gateway(config) as gw, httpx.AsyncClient(timeout=10) as http:
            for i in range(6):
                await http.get(f"http://127.0.0.1:{gw.port}/{i}")
            assert gw.admin is not None
            response = await http.get(f"http://127.0.0.1:{gw.admin.sockets[0].getsockname()[1]}/metrics")
            assert response.status_code == 200
            return response.text


def families(text: str) -> list[Metric]:
    return list(text_string_to_metric_families(text))


def exported_names(found: list[Metric]) -> set[str]:
    """Every series name a query may use: each family's name and its type's sample suffixes."""
    names = set()
    for family in found:
        names.add(family.name)
        for suffix in SUFFIXES.get(family.type, ()):
            names.add(family.name + suffix)
        names.update(sample.name for sample in family.samples)
    return names

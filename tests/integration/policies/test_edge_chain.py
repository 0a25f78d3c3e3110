"""The edge policies wired into real gateways: rate limits (per IP, against XFF rotation, across two
gateway processes sharing Redis), RateLimit headers, CORS preflight, IP rules."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest

from portway.policies.chain import Chain
from portway.routing import MethodNotAllowed
from portway.testing import gateway_process, run_gateway, upstream_server


def _client(port: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}")


def _config(address: str, **route: object) -> dict[str, object]:
    return {
        "upstreams": {"svc": {"targets": [address]}},
        "routes": [{"path": "/api/", "upstream": "svc", "rewrite": "/"} | route],
    }


async def test_per_ip_limit_cannot_be_evaded_by_rotating_x_forwarded_for() -> None:
    rule = {"limit": 5, "per": "1h", "key": "ip"}
    async with (
        upstream_server() as up,
        run_gateway(_config(up.address, rate_limit=rule)) as gw,
        _client(gw.port) as client,
    ):
        statuses = [
            (await client.get("/api/x", headers={"X-Forwarded-For": f"10.0.0.{i}"})).status_code
            for i in range(8)
        ]
    assert statuses == [200] * 5 + [429] * 3
    assert len(up.requests) == 5


async def test_ratelimit_headers_and_429_problem() -> None:
    rules = [{"limit": 2, "per": "1m"}, {"limit": 100, "per": "1h"}]
    async with (
        upstream_server() as up,
        run_gateway(_config(up.address, rate_limit=rules)) as gw,
        _client(gw.port) as client,
    ):
        first = await client.get("/api/x")
        await client.get("/api/x")
        denied = await client.get("/api/x")
    assert first.status_code == 200
    assert first.headers["ratelimit-policy"] == '"2-per-1m";q=2;w=60, "100-per-1h";q=100;w=3600'
    assert first.headers["ratelimit"].startswith('"2-per-1m";r=1;t=')
    assert denied.status_code == 429
    assert denied.headers["content-type"] == "application/problem+json"
    assert int(denied.headers["retry-after"]) >= 1
    assert denied.json()["request_id"] == denied.headers["x-request-id"]
    assert denied.headers["ratelimit"].startswith('"2-per-1m";r=0;t=')


async def test_cors_preflight_answered_at_the_gateway_even_on_a_method_filtered_route() -> None:
    cors = {"origins": ["https://app.example"], "credentials": True}
    config = _config("http://127.0.0.1:9", methods=["GET", "POST"], cors=cors)  # never reached
    preflight = {"Access-Control-Request-Method": "POST"}
    wanted = {
        "Origin": "https://app.example",
        "Access-Control-Request-Headers": "content-type, authorization",
    }
    async with run_gateway(config) as gw, _client(gw.port) as client:
        allowed = await client.options("/api/orders", headers=wanted | preflight)
        refused = await client.options("/api/orders", headers={"Origin": "https://evil.example"} | preflight)
        plain_options = await client.options("/api/orders")
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert refused.status_code == 403
    assert plain_options.status_code == 405


async def test_ip_deny_rule_answers_403_before_the_upstream() -> None:
    config = _config("", ip={"deny": ["127.0.0.0/8"]})
    async with upstream_server() as up:
        config["upstreams"] = {"svc": {"targets": [up.address]}}
        async with run_gateway(config) as gw, _client(gw.port) as client:
            response = await client.get("/api/x")
    assert response.status_code == 403
    assert up.requests == []


@pytest.mark.redis
@pytest.mark.slow
async def test_two_gateway_processes_sharing_redis_let_exactly_the_limit_through(tmp_path: Path) -> None:
    prefix = f"portway:test:{uuid.uuid4().hex}:"
    async with upstream_server() as up:
        config = _config(up.address, rate_limit={"limit": 100, "per": "1m", "key": "route",
                                                   "algorithm": "sliding_window"})  # fmt: skip
        config["rate_limit_store"] = {"backend": "redis", "prefix": prefix}
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        async with (
            gateway_process(config, tmp_path / "a") as one,
            gateway_process(config, tmp_path / "b") as two,
        ):
            limits = httpx.Limits(max_connections=10)
            async with httpx.AsyncClient(limits=limits) as client:
                ports = [one.port, two.port]
                responses = await asyncio.gather(
                    *(client.get(f"http://127.0.0.1:{ports[i % 2]}/api/x") for i in range(150))
                )
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 100
    assert statuses.count(429) == 50
    assert len(up.requests) == 100


class _Broken:
    name = "broken"

    def request(self, ctx: object) -> None:
        raise RuntimeError("a bug in a policy")


async def test_a_failing_policy_gets_a_500_problem_and_the_gateway_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with upstream_server() as up, run_gateway(_config(up.address)) as gw, _client(gw.port) as client:
        route = gw.gateway.router.match("GET", "/api/x")
        assert route is not None and not isinstance(route, MethodNotAllowed)
        broken_policy = _Broken()
        object.__setattr__(route.route.payload, "chain", Chain((), (broken_policy.request,), (), False))
        broken = await client.get("/api/x")
        object.__setattr__(route.route.payload, "chain", Chain((), (), (), False))
        healthy = await client.get("/api/x")
    assert broken.status_code == 500
    assert broken.json()["request_id"] == broken.headers["x-request-id"]
    assert "a bug in a policy" in caplog.text
    assert healthy.status_code == 200
    assert len(up.requests) == 1

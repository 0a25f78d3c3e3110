"""Routing and rewrite end to end: which upstream sees which target, and what the client gets when
nothing (or no method) matches."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from portway.testing import UpstreamServer, run_gateway, upstream_server

ROUTES = [
    {"path": "/api/", "upstream": "a", "rewrite": "/generic/"},
    {"path": "/api/users/", "upstream": "b", "rewrite": "/users/"},
    {"path": "/api/users/{id}/orders", "upstream": "b", "rewrite": "/orders/by-user/{id}"},
    {"path": "/api/shops/{shop}/items/", "upstream": "a", "rewrite": "/shop-{shop}/items/"},
    {"path": "/status", "upstream": "a"},
    {"path": "/items/", "upstream": "a", "methods": ["GET", "HEAD"]},
    {"path": "/items/", "upstream": "b", "methods": ["DELETE"]},
    {"path": "/", "upstream": "b", "host": "admin.example", "rewrite": "/admin/"},
    {"path": "/case/Sensitive", "upstream": "a"},
]


@dataclass
class Setup:
    a: UpstreamServer
    b: UpstreamServer
    client: httpx.AsyncClient

    def seen(self) -> list[tuple[str, str]]:
        """(upstream, target) for every request the upstreams received, in order per upstream."""
        return [("a", r.target) for r in self.a.requests] + [("b", r.target) for r in self.b.requests]


@contextlib.asynccontextmanager
async def setup() -> AsyncIterator[Setup]:
    async with upstream_server() as a, upstream_server() as b:
        config = {
            "upstreams": {"a": {"targets": [a.address]}, "b": {"targets": [b.address]}},
            "routes": ROUTES,
        }
        async with (
            run_gateway(config) as gw,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}") as client,
        ):
            yield Setup(a, b, client)


@pytest.mark.parametrize(
    ("path", "upstream", "target"),
    [
        # prefix routes match the bare prefix, the prefix with its slash and everything below
        ("/api/users", "b", "/users"),
        ("/api/users/", "b", "/users/"),
        ("/api/users/42/profile", "b", "/users/42/profile"),
        # the longest prefix wins over /api/
        ("/api/other/x", "a", "/generic/other/x"),
        ("/api", "a", "/generic"),
        # {param} segments are captured and substituted into the rewrite
        ("/api/users/7/orders", "b", "/orders/by-user/7"),
        ("/api/shops/s-1/items/a/b", "a", "/shop-s-1/items/a/b"),
        # an exact {param} route does not match below itself; the enclosing prefix takes it
        ("/api/users/7/orders/x", "b", "/users/7/orders/x"),
        # an exact route matches that path only...
        ("/status", "a", "/status"),
        ("/case/Sensitive", "a", "/case/Sensitive"),
        # query strings are preserved verbatim through a rewrite
        ("/api/users/1?x=1&y=%20&z=a%2Fb", "b", "/users/1?x=1&y=%20&z=a%2Fb"),
        ("/api/users/7/orders?page=2", "b", "/orders/by-user/7?page=2"),
    ],
)
async def test_route_and_rewrite(path: str, upstream: str, target: str) -> None:
    async with setup() as s:
        response = await s.client.get(path)
        assert response.status_code == 200, response.text
        assert s.seen() == [(upstream, target)]
        assert response.json()["target"] == target


@pytest.mark.parametrize("path", ["/status/x", "/statusx", "/nothing", "/case/sensitive", "/CASE/Sensitive"])
async def test_no_route_is_404_and_nothing_forwarded(path: str) -> None:
    async with setup() as s:
        response = await s.client.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["request_id"] == response.headers["x-request-id"]
        assert s.seen() == []


async def test_method_filter_gives_405_with_allow_listing_every_route_method() -> None:
    async with setup() as s:
        assert (await s.client.get("/items/1")).status_code == 200
        assert (await s.client.delete("/items/1")).status_code == 200
        assert s.seen() == [("a", "/items/1"), ("b", "/items/1")]
        response = await s.client.post("/items/1", content=b"x")
        assert response.status_code == 405
        assert response.headers["allow"] == "DELETE, GET, HEAD"
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 405
        assert len(s.seen()) == 2  # the refused POST reached no upstream


async def test_head_on_405_has_no_body() -> None:
    async with setup() as s:
        response = await s.client.request("PUT", "/items/1")
        assert response.status_code == 405
        head = await s.client.head("/status/none")  # 404 to a HEAD: headers only
        assert head.status_code == 404
        assert head.content == b""


@pytest.mark.parametrize("host", ["admin.example", "ADMIN.example", "admin.example:8080"])
async def test_host_specific_route(host: str) -> None:
    async with setup() as s:
        response = await s.client.get("/api/users/1", headers={"Host": host})
        assert response.status_code == 200
        # the host's own route table is tried first and its catch-all takes the request
        assert s.seen() == [("b", "/admin/api/users/1")]
        assert s.b.requests[0].header("x-forwarded-host") == host


async def test_other_hosts_do_not_see_host_specific_routes() -> None:
    async with setup() as s:
        response = await s.client.get("/", headers={"Host": "other.example"})
        assert response.status_code == 404
        assert (await s.client.get("/status", headers={"Host": "other.example"})).status_code == 200
        assert s.seen() == [("a", "/status")]


async def test_host_header_goes_to_the_target_unless_preserve_host() -> None:
    async with upstream_server() as up:
        for preserve, expected in ((False, f"127.0.0.1:{up.port}"), (True, "public.example")):
            config = {
                "upstreams": {"svc": {"targets": [up.address], "preserve_host": preserve}},
                "routes": [{"path": "/", "upstream": "svc"}],
            }
            async with (
                run_gateway(config) as gw,
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}") as client,
            ):
                await client.get("/", headers={"Host": "public.example"})
            assert up.requests[-1].header_all("host") == [expected]

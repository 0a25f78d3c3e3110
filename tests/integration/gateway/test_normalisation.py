"""Path normalisation against traversal tricks, over raw sockets (httpx would normalise for us).

The public route ``/api/public/`` is rewritten to ``/`` on the *public* upstream; ``/api/admin/`` only
exists for the internal host. A trick that climbs out of ``/api/public/`` must neither reach the admin
upstream nor hand the public upstream a target that climbs out of its rewrite.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from portway.testing import UpstreamServer, run_gateway, upstream_server

from .wire import RawClient, get


@contextlib.asynccontextmanager
async def setup() -> AsyncIterator[tuple[UpstreamServer, UpstreamServer, RawClient]]:
    async with upstream_server() as public, upstream_server() as admin:
        config = {
            "upstreams": {"public": {"targets": [public.address]}, "admin": {"targets": [admin.address]}},
            "routes": [
                {"path": "/api/public/", "upstream": "public", "rewrite": "/"},
                {"path": "/api/admin/", "upstream": "admin", "host": "internal.example"},
            ],
        }
        async with run_gateway(config) as gw:
            client = await RawClient.connect(gw.port)
            try:
                yield public, admin, client
            finally:
                await client.close()


TRAVERSALS = [
    "/api/public/../admin/users",
    "/api/public/%2e%2e/admin/users",
    "/api/public/%2E%2e/admin/users",
    "/api/public/.%2e/admin/users",
    "/api/public/%2e./admin/users",
    "/api/public/%2E%2E/%2E%2E/api/admin/users",
    "/api/public//../admin/users",
    "/api/public/./../admin/users",
    "/api/public/x/../../admin/users",
    "/../api/admin/users",
    "/api/public/../../../../api/admin/users",
    "/api/public/../ADMIN/users",
    "/API/admin/users",
    "/Api/Public/../admin/users",
    "http://internal.example/api/admin/users",  # absolute-form does not choose the host
]


@pytest.mark.parametrize("target", TRAVERSALS)
async def test_traversal_out_of_the_public_prefix_reaches_nothing(target: str) -> None:
    async with setup() as (public, admin, client):
        response = await client.request(get(target))
        assert response.status == 404, response.body
        assert response.header("content-type") == "application/problem+json"
        assert public.requests == []
        assert admin.requests == []
        # the connection stays usable, and the route still works for the intended host
        ok = await client.request(get("/api/admin/users", host="internal.example"))
        assert ok.status == 200
        assert [r.target for r in admin.requests] == ["/api/admin/users"]


@pytest.mark.parametrize(
    "target",
    [
        "/api/public/..%2Fadmin/users",
        "/api/public/..%2fadmin/users",
        "/api/public%2F..%2Fadmin/users",
        "/api/public/%2e%2e%2fadmin/users",
        "/api/public/..%5Cadmin/users",
        "/api/public/x%00.json",
        "/api/public/x%00/../../admin/users",
        "/api/public/%zz",
        "/api/public/%2",
    ],
)
async def test_encoded_slash_nul_and_bad_escapes_are_400(target: str) -> None:
    async with setup() as (public, admin, client):
        response = await client.request(get(target))
        assert response.status == 400, response.body
        assert response.header("content-type") == "application/problem+json"
        assert response.json()["request_id"] == response.header("x-request-id")
        assert public.requests == []
        assert admin.requests == []


@pytest.mark.parametrize("target", ["*", "api/public/x", "/api/public/x\x01y"])
async def test_unroutable_targets_are_refused(target: str) -> None:
    async with setup() as (public, admin, client):
        await client.send(f"GET {target} HTTP/1.1\r\nHost: gw\r\n\r\n".encode("latin-1"))
        response = await client.read_response()
        assert response.status == 400
        assert public.requests == []
        assert admin.requests == []


@pytest.mark.parametrize(
    ("target", "forwarded"),
    [
        ("/api/public/a/./b/../c", "/a/c"),
        ("/api/public//a//b", "/a/b"),
        ("/api//public/a", "/a"),
        ("/api/public/%61%7e%2D", "/a~-"),  # unreserved escapes are decoded
        ("/api/%70ublic/a", "/a"),
        ("/api/public/a%3fb%2a", "/a%3Fb%2A"),  # others are kept, hex upper-cased
        ("/api/public/a/..", "/"),
        ("/api/public/a/b/..?q=../x", "/a/?q=../x"),  # the query is not a path
        ("http://whatever/api/public/a?x=1", "/a?x=1"),
    ],
)
async def test_what_is_matched_is_what_is_forwarded(target: str, forwarded: str) -> None:
    async with setup() as (public, admin, client):
        response = await client.request(get(target))
        assert response.status == 200, response.body
        assert [r.target for r in public.requests] == [forwarded]
        assert admin.requests == []

"""A strict edge, letter case (docs/routing.md "Letter case"): a spelling that differs from a
protected route only in letter case never reaches a back end through another route. With
``/api/admin/`` (auth required) and ``/api/`` (public) in front of back ends that may match
case-insensitively, ``/api/ADMIN/users`` is a 400, not an anonymous request to the public route.
These need the gateway to answer the router's ``BadTarget`` with 400."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from portway.testing import UpstreamServer, run_gateway, upstream_server

from .support import jwt_config, token
from .test_strict_edge import assert_problem, exchange, request


@contextlib.asynccontextmanager
async def two_routes(*, host: str | None = None) -> AsyncIterator[tuple[UpstreamServer, UpstreamServer, int]]:
    async with upstream_server() as admin, upstream_server() as public:
        admin_route = {"path": "/api/admin/", "upstream": "admin", "auth": "required"}
        config = {
            "upstreams": {"admin": {"targets": [admin.address]}, "public": {"targets": [public.address]}},
            "routes": [
                admin_route | ({"host": host} if host else {}),
                {"path": "/api/", "upstream": "public", "auth": "none"},
                {"path": "/", "upstream": "public", "auth": "none"},
            ],
            "auth": {"jwt": jwt_config()},
        }
        async with run_gateway(config) as gw:
            yield admin, public, gw.port


VARIANTS = [
    "/api/ADMIN/users",
    "/api/Admin/users",
    "/api/aDmIn/users",
    "/api/ADMIN",
    "/api/Admin/",
    "/API/admin/users",  # exactly, the catch-all's; folded, the admin route's
    "/Api/Admin/users",
    "/API/ADMIN",
    "/api/ADMIN/../ADMIN/x",
    "/api/%41dmin/x",  # %41 is 'A', decoded before routing
]


def get(target: str, *headers: str, host: str = "gw") -> bytes:
    return request(f"GET {target} HTTP/1.1", "Connection: close", *headers, host=host)


@pytest.mark.parametrize("target", VARIANTS)
async def test_case_variants_of_the_protected_route_are_refused(target: str) -> None:
    async with two_routes() as (admin, public, port):
        answer = await exchange(port, get(target))
        assert_problem(answer, 400)
        # with a valid token too: the variant is not the admin route's spelling
        answer = await exchange(port, get(target, f"Authorization: Bearer {token()}"))
        assert_problem(answer, 400)
        assert admin.requests == []
        assert public.requests == []


@pytest.mark.parametrize("target", VARIANTS[:4])
async def test_case_variants_of_a_host_route_are_refused_for_that_host(target: str) -> None:
    async with two_routes(host="internal.example") as (admin, public, port):
        assert_problem(await exchange(port, get(target, host="internal.example")), 400)
        assert admin.requests == []
        assert public.requests == []
        # for another host there is no admin route to confuse it with
        answer = await exchange(port, get(target, host="www.example"))
        assert answer.status == 200
        assert len(public.requests) == 1


async def test_the_exact_spellings_still_work() -> None:
    async with two_routes() as (admin, public, port):
        assert (await exchange(port, get("/api/admin/users"))).status == 401
        ok = await exchange(port, get("/api/admin/users", f"Authorization: Bearer {token()}"))
        assert ok.status == 200
        for target in ("/api/users", "/api/Users", "/api/administrator", "/Other/Page"):
            assert (await exchange(port, get(target))).status == 200, target
    assert [r.target for r in admin.requests] == ["/api/admin/users"]
    assert [r.target for r in public.requests] == [
        "/api/users",
        "/api/Users",
        "/api/administrator",
        "/Other/Page",
    ]

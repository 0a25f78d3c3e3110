"""A strict edge, API keys: a key sent in the query string is removed from the target before it is
forwarded (in any spelling the gateway itself accepts), and an API-key consumer reaches the
upstream with the same identity headers as a JWT user."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from .support import call, serve

KEY = "pk_live_5f1e2d3c4b5a69788796a5b4"
OTHER_KEY = "pk_live_0a1b2c3d4e5f60718293a4b5"


def api_keys() -> dict[str, Any]:
    return {
        "header": "X-API-Key",
        "query": "api_key",
        "consumers": [
            {"name": "billing", "key_sha256": hashlib.sha256(KEY.encode()).hexdigest(),
             "roles": ["service", "reader"], "scopes": ["invoices:write"]},
            {"name": "reports", "key_sha256": hashlib.sha256(OTHER_KEY.encode()).hexdigest()},
        ],
    }  # fmt: skip


QUERIES = {
    "only": (f"api_key={KEY}", ""),
    "first": (f"api_key={KEY}&a=1&b=2", "a=1&b=2"),
    "middle": (f"a=1&api_key={KEY}&b=2", "a=1&b=2"),
    "last": (f"a=1&b=2&api_key={KEY}", "a=1&b=2"),
    "repeated": (f"api_key={KEY}&a=1&api_key={KEY}", "a=1"),
    "encoded-name": (f"api%5Fkey={KEY}&a=1", "a=1"),  # parse_qsl decodes the name: it authenticates
    "encoded-value": (f"api_key={KEY.replace('_', '%5F')}&a=1", "a=1"),
    "keeps-others-verbatim": (f"x=%2F%20&api_key={KEY}&y=a+b&z", "x=%2F%20&y=a+b&z"),
}


@pytest.mark.parametrize(("query", "rest"), QUERIES.values(), ids=QUERIES.keys())
async def test_a_query_string_key_is_removed_before_forwarding(query: str, rest: str) -> None:
    async with serve(auth={"api_keys": api_keys()}) as (up, port):
        response = await call(port, f"/api/x?{query}")
        assert response.status == 200, response.body
    (seen,) = up.requests
    path, _, forwarded = seen.target.partition("?")
    assert path == "/api/x"
    assert forwarded == rest, seen.target
    assert KEY not in seen.target and KEY.replace("_", "%5F") not in seen.target


async def test_other_parameters_named_like_the_key_prefix_are_kept() -> None:
    async with serve(auth={"api_keys": api_keys()}) as (up, port):
        response = await call(port, f"/api/x?api_key_hint=1&api_key={KEY}&xapi_key=2")
        assert response.status == 200
    assert up.requests[0].target == "/api/x?api_key_hint=1&xapi_key=2"


@pytest.mark.parametrize("via", ["header", "query"])
async def test_api_key_consumers_get_the_identity_headers_jwt_users_get(via: str) -> None:
    async with serve(auth={"api_keys": api_keys()}) as (up, port):
        if via == "header":
            response = await call(
                port, "/api/x", f"X-API-Key: {KEY}", "X-User-Id: evil", "X-User-Scopes: all"
            )
        else:
            response = await call(port, f"/api/x?api_key={KEY}", "X-User-Id: evil", "X-User-Scopes: all")
        assert response.status == 200
    (seen,) = up.requests
    assert seen.header_all("x-user-id") == ["consumer:billing"]
    assert seen.header_all("x-user-role") == ["service,reader"]
    assert seen.header_all("x-user-scopes") == ["invoices:write"]
    assert seen.header_all("x-consumer") == ["billing"]


async def test_a_consumer_without_roles_or_scopes_sends_no_empty_headers() -> None:
    async with serve(auth={"api_keys": api_keys()}) as (up, port):
        assert (await call(port, "/api/x", f"X-API-Key: {OTHER_KEY}")).status == 200
    (seen,) = up.requests
    assert seen.header_all("x-user-id") == ["consumer:reports"]
    assert seen.header_all("x-consumer") == ["reports"]
    assert seen.header_all("x-user-role") == []
    assert seen.header_all("x-user-scopes") == []

"""API keys over real sockets: consumers declared by the key's SHA-256, the key from a header or a
query parameter, roles on ``roles:`` routes, ``X-Consumer`` upstream (never the client's)."""

from __future__ import annotations

import hashlib
from typing import Any

from .support import (
    assert_invalid_token,
    assert_missing_credential,
    call,
    jwt_config,
    serve,
    token,
)

ADMIN_KEY = "pk_admin_4c1f0e8d2b7a9c3e5f6a"
READER_KEY = "pk_reader_9a8b7c6d5e4f3a2b1c0d"


def sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_keys(**overrides: Any) -> dict[str, Any]:
    return {
        "header": "X-API-Key",
        "consumers": [
            {"name": "billing", "key_sha256": sha256(ADMIN_KEY), "roles": ["admin"], "scopes": ["write"]},
            {"name": "reports", "key_sha256": sha256(READER_KEY).upper(), "roles": ["reader"]},
        ],
    } | overrides


async def test_a_key_in_the_header_names_its_consumer_upstream() -> None:
    async with serve(auth={"api_keys": api_keys()}) as (up, port):
        ok = await call(port, "/api/x", f"X-API-Key: {ADMIN_KEY}")
        ok2 = await call(port, "/api/x", f"x-api-key: {READER_KEY}")
    assert ok.status == ok2.status == 200
    assert up.requests[0].header_all("x-consumer") == ["billing"]
    assert up.requests[0].header_all("x-user-role") == ["admin"]
    assert up.requests[1].header_all("x-consumer") == ["reports"]
    assert up.requests[1].header_all("x-user-role") == ["reader"]


async def test_a_wrong_or_empty_key_is_refused() -> None:
    async with serve(auth={"api_keys": api_keys()}) as (up, port):
        for bad in (ADMIN_KEY + "x", ADMIN_KEY[:-1], sha256(ADMIN_KEY), ADMIN_KEY.upper(), "", "   "):
            assert_invalid_token(await call(port, "/api/x", f"X-API-Key: {bad}"))
        assert_missing_credential(await call(port, "/api/x"))
    assert up.requests == []


async def test_a_key_in_the_query() -> None:
    async with serve(auth={"api_keys": api_keys(header=None, query="api_key")}) as (up, port):
        assert (await call(port, f"/api/x?a=1&api_key={ADMIN_KEY}")).status == 200
        assert (await call(port, f"/api/x?api_key={READER_KEY.replace('_', '%5F')}")).status == 200
        assert_invalid_token(await call(port, "/api/x?api_key=nope"))
        assert_invalid_token(await call(port, "/api/x?api_key="))
        # the header is not a source when only the query is configured
        assert_missing_credential(await call(port, "/api/x", f"X-API-Key: {ADMIN_KEY}"))
    assert [r.header("x-consumer") for r in up.requests] == ["billing", "reports"]


async def test_the_header_wins_over_the_query_when_both_are_configured() -> None:
    async with serve(auth={"api_keys": api_keys(query="api_key")}) as (up, port):
        assert (await call(port, f"/api/x?api_key={READER_KEY}", f"X-API-Key: {ADMIN_KEY}")).status == 200
        assert_invalid_token(await call(port, f"/api/x?api_key={READER_KEY}", "X-API-Key: wrong"))
    assert up.requests[0].header("x-consumer") == "billing"


async def test_consumer_roles_apply_to_roles_routes() -> None:
    routes = (
        {"path": "/api/admin/", "roles": ["admin"]},
        {"path": "/api/reports/", "roles": ["admin", "reader"]},
        {"path": "/api/write/", "scopes": ["write"]},
    )
    async with serve(*routes, auth={"api_keys": api_keys()}) as (up, port):
        assert (await call(port, "/api/admin/1", f"X-API-Key: {ADMIN_KEY}")).status == 200
        assert (await call(port, "/api/admin/1", f"X-API-Key: {READER_KEY}")).status == 403
        assert (await call(port, "/api/reports/1", f"X-API-Key: {READER_KEY}")).status == 200
        assert (await call(port, "/api/write/1", f"X-API-Key: {ADMIN_KEY}")).status == 200
        assert (await call(port, "/api/write/1", f"X-API-Key: {READER_KEY}")).status == 403
        assert_missing_credential(await call(port, "/api/admin/1"))
    assert len(up.requests) == 3


async def test_spoofed_consumer_headers_are_replaced() -> None:
    spoof = ("X-Consumer: billing", "X-User-Role: admin", "X_Consumer: billing", "x-consumer: root")
    async with serve(auth={"api_keys": api_keys()}) as (up, port):
        assert (await call(port, "/api/x", f"X-API-Key: {READER_KEY}", *spoof)).status == 200
    assert up.requests[0].header_all("x-consumer") == ["reports"]
    assert up.requests[0].header_all("x-user-role") == ["reader"]
    assert not [k for k, _ in up.requests[0].headers if k.lower() == "x_consumer"]


async def test_api_keys_and_jwt_side_by_side() -> None:
    """A present but wrong API key is refused even next to a valid token: a bad credential never
    falls through to another."""
    auth = {"api_keys": api_keys(), "jwt": jwt_config()}
    async with serve(auth=auth) as (up, port):
        assert (await call(port, "/api/x", bearer=token())).status == 200
        assert (await call(port, "/api/x", f"X-API-Key: {ADMIN_KEY}")).status == 200
        assert_invalid_token(await call(port, "/api/x", "X-API-Key: wrong", bearer=token()))
    assert up.requests[0].header("x-user-id") == "alice" and up.requests[0].header("x-consumer") is None
    # a consumer is told upstream like a JWT user: subject, roles and scopes, plus its name
    assert up.requests[1].header("x-consumer") == "billing"
    assert up.requests[1].header("x-user-id") == "consumer:billing"

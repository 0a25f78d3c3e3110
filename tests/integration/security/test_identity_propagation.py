"""Identity propagation over real sockets: whatever identity headers a client sends, in whatever
spelling, the upstream sees exactly the gateway's values, once (nothing on a public route); claim
values that cannot travel in a header are refused; ``X-Portway-Identity`` verifies with
:mod:`portway.identity` in the service and a forged one does not."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from portway.identity import IdentityError, sign_identity, verify_identity
from portway.testing import UpstreamRequest, UpstreamResponse, echo, run_gateway, upstream_server

from .support import (
    SIGNING_KEY,
    assert_invalid_token,
    call,
    gateway_config,
    jwt_config,
    serve,
    token,
)

CANONICAL = ("X-User-Id", "X-User-Role", "X-User-Scopes", "X-Consumer", "X-Portway-Identity")
ROUTES = ({"path": "/pub/", "auth": "none"}, {"path": "/req/", "auth": "required"})
AUTH = {"jwt": jwt_config(), "identity": {"signing_key": SIGNING_KEY}}


def spellings(name: str) -> list[tuple[str, ...]]:
    """Header lines that each try to smuggle ``name`` past the gateway."""
    under = name.replace("-", "_")
    return [
        (f"{name}: evil",),
        (f"{name.upper()}: evil",),
        (f"{name.lower()}: evil",),
        (f"{name[:2].lower()}{name[2:].upper()}: evil",),
        (f"{name}: evil-1", f"{name}: evil-2"),
        (f"{name}: evil-1", f"{name.lower()}: evil-2", f"{name.upper()}: evil-3"),
        (f"{under}: evil",),
        (f"{under.lower()}: evil",),
        (f"{name.replace('-', '_', 1)}: evil",),
        (f"{name[::-1].replace('-', '_', 1)[::-1]}: evil",),  # only the last dash
        ("Connection: keep-alive, " + name, f"{name}: evil"),
        ("Connection: " + under, f"{under}: evil"),
    ]


CASES = [(name, lines) for name in CANONICAL for lines in spellings(name)]


def identity_headers(request: UpstreamRequest) -> dict[str, list[str]]:
    """Every header the upstream got whose name, ignoring case and '_' for '-', is an identity
    header (a framework may read any of those as the real one)."""
    wanted = {h.lower() for h in CANONICAL}
    out: dict[str, list[str]] = {}
    for name, value in request.headers:
        key = name.lower().replace("_", "-")
        if key in wanted:
            out.setdefault(key, []).append(value)
    return out


@pytest.fixture(scope="module")
def bearer() -> str:
    return token(role="admin", scope="orders:read orders:write")


@pytest.mark.parametrize(("name", "lines"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
async def test_spoofed_identity_headers_never_reach_the_upstream(
    name: str, lines: tuple[str, ...], bearer: str
) -> None:
    async with serve(*ROUTES, auth=AUTH) as (up, port):
        assert (await call(port, "/pub/x", *lines)).status == 200
        assert (await call(port, "/pub/x", *lines, bearer=bearer)).status == 200
        assert (await call(port, "/req/x", *lines, bearer=bearer)).status == 200
    public, public_with_token, protected = up.requests
    assert identity_headers(public) == {}
    assert identity_headers(public_with_token) == {}
    seen = identity_headers(protected)
    assert seen.pop("x-user-id") == ["alice"]
    assert seen.pop("x-user-role") == ["admin"]
    assert seen.pop("x-user-scopes") == ["orders:read orders:write"]
    (signed,) = seen.pop("x-portway-identity")
    assert verify_identity(signed, SIGNING_KEY).subject == "alice"
    assert seen == {}  # no X-Consumer for a JWT caller, and no client copy of anything


async def test_configured_extra_identity_headers_are_stripped_everywhere() -> None:
    auth = {"jwt": jwt_config(), "identity": {"headers": ["X-User-Id", "X-Consumer", "X-Tenant-Id"]}}
    async with serve(*ROUTES, auth=auth) as (up, port):
        for path in ("/pub/x", "/req/x"):
            response = await call(port, path, "X-Tenant-Id: other", "x_tenant_id: other", bearer=token())
            assert response.status == 200
    for request in up.requests:
        assert [k for k, _ in request.headers if k.lower().replace("_", "-") == "x-tenant-id"] == []


async def test_headers_from_claims_to_headers_are_stripped_even_if_not_listed_in_identity_headers() -> None:
    auth = {"jwt": jwt_config(claims_to_headers={"sub": "X-User-Id", "email": "X-User-Email"})}
    async with serve(*ROUTES, auth=auth) as (up, port):
        assert (
            await call(port, "/req/x", "X-User-Email: ceo@corp", bearer=token(email="a@b.c"))
        ).status == 200
        assert (await call(port, "/pub/x", "X-User-Email: ceo@corp")).status == 200
    assert up.requests[0].header_all("x-user-email") == ["a@b.c"]
    assert up.requests[1].header_all("x-user-email") == []


HOSTILE_VALUES: list[dict[str, Any]] = [
    {"sub": "alice\r\nX-User-Role: admin"},
    {"sub": "alice\nX-User-Role: admin"},
    {"sub": "alice\rX"},
    {"sub": "alice\x00"},
    {"sub": "alice\x7f"},
    {"sub": "alice\tbob"},
    {"sub": "a" * 5000},
    {"role": ["user", "admin\r\nX-Injected: 1"]},
    {"role": "user\r\n\r\nGET /admin HTTP/1.1"},
    {"scope": "read\r\nX-Injected: 1"},
    {"scope": ["read", "write\n"]},
]


@pytest.mark.parametrize("claims", HOSTILE_VALUES)
async def test_claim_values_that_would_inject_headers_are_refused(claims: dict[str, Any]) -> None:
    async with serve(*ROUTES, auth=AUTH) as (up, port):
        assert_invalid_token(await call(port, "/req/x", bearer=token(**claims)))
        assert (await call(port, "/req/x", bearer=token())).status == 200  # the connection pool is fine
    assert len(up.requests) == 1
    assert "x-injected" not in {k.lower() for k, _ in up.requests[0].headers}


async def test_non_ascii_claims_travel_as_utf8() -> None:
    async with serve(*ROUTES, auth=AUTH) as (up, port):
        assert (await call(port, "/req/x", bearer=token(sub="zoë"))).status == 200
    raw = up.requests[0].header("x-user-id")
    assert raw is not None and raw.encode("latin-1").decode("utf-8") == "zoë"


async def test_x_portway_identity_verifies_in_the_service() -> None:
    verified: list[Any] = []

    async def service(request: UpstreamRequest) -> UpstreamResponse:
        try:
            verified.append(verify_identity(request.header("x-portway-identity"), SIGNING_KEY))
        except IdentityError as exc:
            verified.append(exc)
        return await echo(request)

    forged = sign_identity("root", ("admin",), frozenset({"all"}), None, "forger-" + "x" * 40, 60)
    async with upstream_server(service) as up:
        config = gateway_config(up.address, *ROUTES, auth=AUTH)
        async with run_gateway(config) as gw:
            tok = token(role=["admin", "ops"], scope="a b")
            assert (await call(gw.port, "/req/x", f"X-Portway-Identity: {forged}", bearer=tok)).status == 200
            assert (await call(gw.port, "/pub/x", f"X-Portway-Identity: {forged}")).status == 200
    ok, public = verified
    assert not isinstance(ok, Exception)
    assert ok.subject == "alice" and ok.roles == ("admin", "ops") and ok.scopes == {"a", "b"}
    assert ok.consumer is None
    assert 0 < ok.expires - time.time() <= 60
    assert isinstance(public, IdentityError)  # nothing on a public route: the service knows it is anonymous


async def test_x_portway_identity_for_an_api_key_consumer() -> None:
    import hashlib

    key = "pk_live_0123456789abcdef"
    auth = {
        "api_keys": {
            "consumers": [
                {
                    "name": "billing",
                    "key_sha256": hashlib.sha256(key.encode()).hexdigest(),
                    "roles": ["svc"],
                    "scopes": ["invoices"],
                }
            ]
        },
        "identity": {"signing_key": SIGNING_KEY, "token_ttl": "30s"},
    }
    async with serve(*ROUTES, auth=auth) as (up, port):
        assert (await call(port, "/req/x", f"X-API-Key: {key}")).status == 200
    verified = verify_identity(up.requests[0].header("x-portway-identity"), SIGNING_KEY)
    assert verified.consumer == "billing" and verified.subject == "consumer:billing"
    assert verified.roles == ("svc",) and verified.scopes == {"invoices"}
    assert verified.expires - time.time() <= 30


def test_the_helper_rejects_forged_expired_and_foreign_tokens() -> None:
    good = sign_identity("alice", ("admin",), frozenset({"a"}), None, SIGNING_KEY, 60)
    assert verify_identity(good, SIGNING_KEY).subject == "alice"
    assert verify_identity(good.encode(), SIGNING_KEY).subject == "alice"
    header, payload, signature = good.split(".")
    bad = [
        None,
        "",
        sign_identity("alice", (), frozenset(), None, "other-key-" + "o" * 40, 60),  # another key
        sign_identity("alice", (), frozenset(), None, SIGNING_KEY, 60, now=time.time() - 3600),  # expired
        f"{header}.{payload}.",  # signature stripped
        f"{header}.{payload[:-2]}AA.{signature}",  # payload changed
        jwt.encode({"sub": "alice", "exp": time.time() + 60}, SIGNING_KEY),  # a user's JWT, same key
        jwt.encode(
            {"sub": "root", "iss": "portway", "aud": "portway-services", "iat": 0, "exp": 9e9},
            None,
            algorithm="none",
        ),
    ]
    for candidate in bad:
        with pytest.raises(IdentityError):
            verify_identity(candidate, SIGNING_KEY)

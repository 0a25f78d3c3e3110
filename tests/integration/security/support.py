"""Helpers for the edge-security tests over real loopback sockets: keys of every family, tokens (well
formed and hostile), a JWKS server, a raw HTTP/1.1 client (httpx would normalise targets and headers)
and a config builder. Anything hostile is built by hand here, never by asking PyJWT to sign it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from portway.testing import HeaderLookup, UpstreamRequest, UpstreamResponse, UpstreamServer, upstream_server

SECRET = "hs-secret-" + "k" * 54  # 64 bytes: long enough for HS512 without a key-length warning
OTHER_SECRET = "another-secret-" + "z" * 49
ISSUER = "https://idp.example"
AUDIENCE = "portway-api"
SIGNING_KEY = "identity-signing-key-" + "i" * 43
INVALID_DETAIL = "the credential is invalid or expired"
MISSING_DETAIL = "authentication is required"
IDENTITY_HEADERS = ("x-user-id", "x-user-role", "x-user-scopes", "x-consumer", "x-portway-identity")


# -- keys ----------------------------------------------------------------------------------------


@functools.cache
def rsa_key(n: int = 0) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def ec_key(n: int = 0) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@functools.cache
def ed_key(n: int = 0) -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def public_pem(private: Any) -> bytes:
    return private.public_key().public_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def jwk(kid: str, private: Any, **extra: Any) -> dict[str, Any]:
    public = private.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        doc = RSAAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        doc = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        doc = OKPAlgorithm.to_jwk(public, as_dict=True)
    return {**doc, "kid": kid, "use": "sig", **extra}


# -- tokens --------------------------------------------------------------------------------------


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def token(key: Any = SECRET, alg: str = "HS256", kid: str | None = None, **overrides: Any) -> str:
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(claims(**overrides), key, algorithm=alg, headers=headers)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())


def unsigned_token(payload: dict[str, Any] | None = None, alg: str = "none") -> str:
    """``alg: none`` with an empty signature, as an attacker writes it."""
    return _segments({"alg": alg, "typ": "JWT"}, payload or claims()) + "."


def hmac_token(raw_key: bytes, payload: dict[str, Any] | None = None, alg: str = "HS256",
               kid: str | None = None) -> str:  # fmt: skip
    """An HS* token signed with any bytes as the secret (PyJWT refuses PEM keys as HMAC secrets,
    which is exactly what the key-confusion attack needs)."""
    header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    signing_input = _segments(header, payload or claims())
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signature = hmac.new(raw_key, signing_input.encode(), digest).digest()
    return signing_input + "." + b64url(signature)


# -- a raw HTTP/1.1 client -------------------------------------------------------------------------


@dataclass
class Response(HeaderLookup):
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


async def send_raw(port: int, data: bytes, within: float = 5.0) -> Response:
    """Send exactly ``data`` on a new connection and read one response (Content-Length framed, or
    until the gateway closes)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(within):
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = [(k, v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if line)]
            response = Response(status, headers)
            length = response.header("content-length")
            if data.startswith(b"HEAD "):
                pass
            elif length is not None:
                response.body = await reader.readexactly(int(length))
            elif status not in (204, 304):
                response.body = await reader.read(-1)
            return response
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def request_bytes(target: str, *headers: str, method: str = "GET", host: str = "api.example") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")


async def call(port: int, target: str = "/api/x", *headers: str, method: str = "GET",
               bearer: str | None = None) -> Response:  # fmt: skip
    extra = (f"Authorization: Bearer {bearer}",) if bearer is not None else ()
    return await send_raw(port, request_bytes(target, *extra, *headers, method=method))


# -- assertions ----------------------------------------------------------------------------------


def assert_invalid_token(response: Response) -> None:
    """The one answer to every bad credential: 401, the invalid_token challenge, a problem+json
    whose detail says nothing about why."""
    assert response.status == 401, (response.status, response.body)
    challenge = response.header("www-authenticate") or ""
    assert challenge.startswith("Bearer "), challenge
    assert 'error="invalid_token"' in challenge
    assert response.header("content-type") == "application/problem+json"
    body = response.json()
    assert body["status"] == 401
    assert body["detail"] == INVALID_DETAIL


def assert_missing_credential(response: Response) -> None:
    assert response.status == 401, (response.status, response.body)
    challenge = response.header("www-authenticate") or ""
    assert challenge.startswith("Bearer ") and "error=" not in challenge, challenge
    assert response.header("content-type") == "application/problem+json"
    assert response.json()["detail"] == MISSING_DETAIL


# -- config ----------------------------------------------------------------------------------------


def jwt_config(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"algorithms": ["HS256"], "secret": SECRET, "issuer": ISSUER, "audience": AUDIENCE}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def gateway_config(upstream: str, *routes: dict[str, Any], auth: dict[str, Any] | None = None,
                   **extra: Any) -> dict[str, Any]:  # fmt: skip
    """One upstream ``svc``; routes default to a protected ``/api/`` prefix."""
    return {
        "upstreams": {"svc": {"targets": [upstream]}},
        "routes": [{"upstream": "svc"} | r for r in routes] or [{"path": "/api/", "upstream": "svc"}],
        "auth": auth if auth is not None else {"jwt": jwt_config()},
        **extra,
    }


# -- a JWKS endpoint -------------------------------------------------------------------------------


@dataclass
class Jwks:
    """What the loopback JWKS endpoint serves; tests change it while the gateway runs."""

    keys: list[dict[str, Any]] = field(default_factory=list)
    delay: float = 0.0  # seconds before answering (a slow endpoint)
    status: int = 200
    raw: bytes | None = None  # serve these bytes instead of the document

    async def handle(self, request: UpstreamRequest) -> UpstreamResponse:
        if self.delay:
            await asyncio.sleep(self.delay)
        body = self.raw if self.raw is not None else json.dumps({"keys": self.keys}).encode()
        return UpstreamResponse(self.status, [("Content-Type", "application/json")], body)


@contextlib.asynccontextmanager
async def jwks_server(jwks: Jwks) -> AsyncIterator[UpstreamServer]:
    async with upstream_server(jwks.handle) as server:
        yield server


async def wait_until(predicate: Any, within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - no event reports these states
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def serve(*routes: dict[str, Any], auth: dict[str, Any] | None = None,
                **extra: Any) -> AsyncIterator[tuple[UpstreamServer, int]]:  # fmt: skip
    """An echo upstream and a gateway in front of it: yields (upstream, gateway port)."""
    from portway.testing import run_gateway

    async with contextlib.AsyncExitStack() as stack:
        up = await stack.enter_async_context(upstream_server())
        config = gateway_config(up.address, *routes, auth=auth, **extra)
        gw = await stack.enter_async_context(run_gateway(config))
        yield up, gw.port

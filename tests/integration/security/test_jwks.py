"""JWKS over a real loopback endpoint: key rotation, the once-per-interval refresh on an unknown kid,
an endpoint that is down, slow, trickling or serving garbage (known keys go on verifying; unknown
kids are refused within ``jwks_timeout``), and the start-up fetch."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from portway.testing import UpstreamServer, run_gateway, upstream_server

from .support import (
    Jwks,
    assert_invalid_token,
    call,
    gateway_config,
    jwk,
    jwks_server,
    jwt_config,
    rsa_key,
    token,
    wait_until,
)


def rs_token(kid: str, n: int = 0, **claims: Any) -> str:
    return token(rsa_key(n), "RS256", kid=kid, **claims)


@contextlib.asynccontextmanager
async def jwks_gateway(url: str, **jwt: Any) -> AsyncIterator[tuple[Any, int]]:
    auth = {"jwt": jwt_config(algorithms=["RS256"], secret=None, jwks_url=url, **jwt)}
    async with upstream_server() as up, run_gateway(gateway_config(up.address, auth=auth)) as gw:
        yield up, gw.port


@contextlib.asynccontextmanager
async def with_jwks(jwks: Jwks, **jwt: Any) -> AsyncIterator[tuple[UpstreamServer, Any, int]]:
    """A JWKS endpoint serving ``jwks`` and a gateway using it: yields (jwks server, upstream, port)."""
    async with jwks_server(jwks) as server, jwks_gateway(f"{server.address}/jwks", **jwt) as (up, port):
        yield server, up, port


async def until_accepted(port: int, bearer: str, within: float = 3.0) -> None:
    async with asyncio.timeout(within):
        while (await call(port, bearer=bearer)).status != 200:  # noqa: ASYNC110 - polling the gateway
            await asyncio.sleep(0.02)


async def test_key_rotation_and_the_refresh_interval() -> None:
    jwks = Jwks([jwk("k1", rsa_key(0))])
    async with with_jwks(jwks, jwks_refresh_interval="1s") as (server, _, port):
        await until_accepted(port, rs_token("k1"))
        fetched = len(server.requests)
        started = time.monotonic()
        jwks.keys = [jwk("k1", rsa_key(0)), jwk("k2", rsa_key(1))]
        # Within the interval of the last fetch, an unknown kid does not trigger another one.
        if time.monotonic() - started < 0.5:
            for _ in range(5):
                assert_invalid_token(await call(port, bearer=rs_token("k2", 1)))
            assert len(server.requests) == fetched
        await asyncio.sleep(max(0.0, 1.05 - (time.monotonic() - started)))
        # After it, the first unknown kid refreshes once, and the new key is accepted.
        assert (await call(port, bearer=rs_token("k2", 1))).status == 200
        assert len(server.requests) == fetched + 1
        # The old key is retired by the IdP: a new token signed with it is refused at the next
        # refresh; the JWKS was fetched once more at most.
        jwks.keys = [jwk("k2", rsa_key(1))]
        await asyncio.sleep(1.05)
        assert_invalid_token(await call(port, bearer=rs_token("k3", 2)))  # unknown kid: refresh
        assert len(server.requests) == fetched + 2
        assert_invalid_token(await call(port, bearer=rs_token("k1", 0, jti="new")))
        assert (await call(port, bearer=rs_token("k2", 1, jti="new"))).status == 200
        assert len(server.requests) == fetched + 2


async def test_a_burst_of_unknown_kids_costs_one_fetch() -> None:
    jwks = Jwks([jwk("k1", rsa_key(0))], delay=0.2)
    async with with_jwks(jwks, jwks_refresh_interval="300ms") as (server, _, port):
        await until_accepted(port, rs_token("k1"))
        await asyncio.sleep(0.35)
        before = len(server.requests)
        jwks.keys.append(jwk("k3", rsa_key(2)))
        results = await asyncio.gather(*(call(port, bearer=rs_token("k3", 2, jti=str(i))) for i in range(20)))
        assert len(server.requests) == before + 1
        # Requests that arrived while that fetch was in flight share it; later ones, within the
        # interval, are refused without a fetch of their own.
        assert {r.status for r in results} <= {200, 401}
        assert results[0].status == 200
        assert (await call(port, bearer=rs_token("k3", 2, jti="after"))).status == 200
        assert len(server.requests) == before + 1


async def test_jwks_down_known_keys_still_verify() -> None:
    jwks = Jwks([jwk("k1", rsa_key(0))])
    stack = contextlib.AsyncExitStack()
    async with stack:
        server = await stack.enter_async_context(jwks_server(jwks))
        _, port = await stack.enter_async_context(
            jwks_gateway(f"{server.address}/jwks", jwks_refresh_interval="200ms", jwks_timeout="500ms")
        )
        cached = rs_token("k1", jti="cached")
        await until_accepted(port, cached)
        # The endpoint goes away: connections are refused from now on.
        server.server.close()
        await server.server.wait_closed()
        await asyncio.sleep(0.25)
        started = time.monotonic()
        assert_invalid_token(await call(port, bearer=rs_token("k9", 3)))  # unknown kid: the fetch fails
        assert time.monotonic() - started < 1.0
        assert (await call(port, bearer=cached)).status == 200  # a cached token
        assert (await call(port, bearer=rs_token("k1", jti="fresh"))).status == 200  # a known key
        await asyncio.sleep(0.25)
        assert_invalid_token(await call(port, bearer=rs_token("k9", 3, jti="again")))
        assert (await call(port, bearer=rs_token("k1", jti="fresh-2"))).status == 200


async def test_jwks_slow_unknown_kid_is_refused_within_the_timeout_and_known_keys_are_not_held_up() -> None:
    jwks = Jwks([jwk("k1", rsa_key(0))])
    async with with_jwks(jwks, jwks_refresh_interval=0, jwks_timeout="1s") as (_, _, port):
        await until_accepted(port, rs_token("k1"))
        jwks.delay = 5.0
        started = time.monotonic()
        unknown = asyncio.ensure_future(call(port, bearer=rs_token("k9", 3)))
        await asyncio.sleep(0.05)
        # While the refresh hangs, a token with a known key is verified at once.
        known_started = time.monotonic()
        assert (await call(port, bearer=rs_token("k1", jti="during"))).status == 200
        assert time.monotonic() - known_started < 0.5
        assert_invalid_token(await unknown)
        assert 0.9 < time.monotonic() - started < 2.5
        jwks.delay = 0.0


async def test_a_trickling_jwks_is_bounded_by_the_timeout_as_a_whole() -> None:
    """An endpoint that sends a byte every 100 ms never trips a per-read timeout: the fetch as a
    whole must still end at ``jwks_timeout``."""
    stop = asyncio.Event()
    good = Jwks([jwk("k1", rsa_key(0))])
    serve_good = True

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            body = b'{"keys": ' + (b" " * 200) + b"[]}"
            if serve_good:
                body = (await good.handle(None)).body  # type: ignore[arg-type]
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%b" % (len(body), body))
                await writer.drain()
                return
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body))
            for byte in body:
                if stop.is_set():
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.1)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/jwks"
    try:
        async with jwks_gateway(url, jwks_refresh_interval=0, jwks_timeout="300ms") as (_, port):
            await until_accepted(port, rs_token("k1"))
            serve_good = False
            started = time.monotonic()
            async with asyncio.timeout(5):
                assert_invalid_token(await call(port, bearer=rs_token("k9", 3)))
            assert time.monotonic() - started < 1.5
            assert (await call(port, bearer=rs_token("k1", jti="still"))).status == 200
    finally:
        stop.set()
        server.close()


async def test_a_garbage_jwks_keeps_the_known_keys_and_never_500s() -> None:
    jwks = Jwks([jwk("k1", rsa_key(0))])
    async with with_jwks(jwks, jwks_refresh_interval=0) as (_, _, port):
        await until_accepted(port, rs_token("k1"))
        garbage = [
            b"not json",
            b"[]",
            b'{"keys": 5}',
            b'{"keys": "abc"}',
            b'{"keys": [5, null]}',
            b'{"keys": [{"kid": "k9", "kty": "RSA", "n": "!!", "e": "AQAB"}]}',
        ]
        for n, raw in enumerate(garbage):
            jwks.raw = raw
            response = await call(port, bearer=rs_token("k9", 3, jti=str(n)))
            assert_invalid_token(response)
        jwks.raw = None
        # the last garbage document had no usable key: k1 is still known only if bad
        # documents never replaced the good key set
        jwks.status = 503
        assert (await call(port, bearer=rs_token("k1", jti="after-garbage"))).status == 200


async def test_unusable_jwks_entries_are_skipped() -> None:
    jwks = Jwks(
        [
            jwk("enc", rsa_key(1), use="enc"),  # an encryption key never verifies signatures
            {k: v for k, v in jwk("nokid", rsa_key(2)).items() if k != "kid"},
            jwk("good", rsa_key(0)),
        ]
    )
    async with with_jwks(jwks, jwks_refresh_interval="30s") as (_, _, port):
        await until_accepted(port, rs_token("good"))
        assert_invalid_token(await call(port, bearer=rs_token("enc", 1)))
        assert_invalid_token(await call(port, bearer=rs_token("nokid", 2)))


async def test_a_token_sent_while_the_startup_fetch_is_in_flight_waits_for_it() -> None:
    """The JWKS is fetched in the background at start (and on every reload). A token arriving
    before that fetch lands must wait for it, not be refused as an unknown kid for a whole
    ``jwks_refresh_interval``."""
    jwks = Jwks([jwk("k1", rsa_key(0))], delay=0.3)
    async with with_jwks(jwks) as (server, up, port):
        response = await call(port, bearer=rs_token("k1"))
        assert response.status == 200, response.body
        assert len(server.requests) == 1
        assert len(up.requests) == 1


async def test_the_jwks_fetch_waits_for_nothing_at_startup_when_it_is_down() -> None:
    async with upstream_server() as placeholder:
        url = f"{placeholder.address}/jwks"
    # the placeholder is closed: nothing listens on its port any more
    async with jwks_gateway(url, jwks_timeout="300ms") as (up, port):
        await wait_until(lambda: True)
        started = time.monotonic()
        assert_invalid_token(await call(port, bearer=rs_token("k1")))
        assert time.monotonic() - started < 1.0
    assert up.requests == []


async def test_the_key_set_is_reread_every_max_age_so_retired_keys_stop_verifying() -> None:
    jwks = Jwks([jwk("k1", rsa_key(0)), jwk("k2", rsa_key(1))])
    async with with_jwks(jwks, jwks_max_age="300ms", jwks_refresh_interval="100ms") as (server, _, port):
        await until_accepted(port, rs_token("k1"))
        fetched = len(server.requests)
        jwks.keys = [jwk("k2", rsa_key(1))]  # the IdP retires k1
        await asyncio.sleep(0.35)
        # The key set is stale: the next verification re-reads it in the background and is itself
        # answered from the keys already known.
        assert (await call(port, bearer=rs_token("k1", jti="during"))).status == 200
        await wait_until(lambda: len(server.requests) > fetched)
        # Once that re-read has landed, new tokens signed with k1 are refused.
        async with asyncio.timeout(3):
            n = 0
            while (await call(port, bearer=rs_token("k1", jti=f"after-{n}"))).status != 401:
                n += 1
                await asyncio.sleep(0.02)
        assert (await call(port, bearer=rs_token("k2", 1, jti="after"))).status == 200

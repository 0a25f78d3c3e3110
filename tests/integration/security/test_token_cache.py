"""The verified-token cache, observed over real sockets by counting signature checks (``jwt.decode``
wrapped, nothing network-related patched): a repeated token verifies once; a token that differs
by one byte never hits the cache; an entry dies with its token's ``exp``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import jwt
import pytest

from .support import assert_invalid_token, call, jwt_config, serve, token


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = jwt.decode

    def counting(raw: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(raw)
        return real(raw, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    return calls


async def test_the_same_token_is_verified_once(decodes: list[str]) -> None:
    bearer = token()
    async with serve() as (up, port):
        for _ in range(5):
            assert (await call(port, bearer=bearer)).status == 200
        assert decodes == [bearer]
        assert (await call(port, bearer=token(jti="other"))).status == 200
        assert len(decodes) == 2
    assert [r.header("x-user-id") for r in up.requests] == ["alice"] * 6


async def test_the_cache_is_shared_by_every_route(decodes: list[str]) -> None:
    bearer = token()
    async with serve({"path": "/a/"}, {"path": "/b/"}) as (_, port):
        assert (await call(port, "/a/1", bearer=bearer)).status == 200
        assert (await call(port, "/b/1", bearer=bearer)).status == 200
    assert len(decodes) == 1


async def test_a_token_one_byte_off_a_cached_one_is_checked_and_refused(decodes: list[str]) -> None:
    bearer = token()
    header, payload, signature = bearer.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    async with serve() as (_, port):
        assert (await call(port, bearer=bearer)).status == 200
        assert_invalid_token(await call(port, bearer=f"{header}.{payload}.{flipped}"))
        assert_invalid_token(await call(port, bearer=bearer + "x"))
        assert_invalid_token(await call(port, bearer=bearer[:-1]))
        assert (await call(port, bearer=bearer)).status == 200
    assert decodes.count(bearer) == 1


async def test_a_cached_token_expires_with_its_exp(decodes: list[str]) -> None:
    exp = int(time.time()) + 1
    bearer = token(exp=exp)
    async with serve(auth={"jwt": jwt_config(leeway=0)}) as (up, port):
        assert (await call(port, bearer=bearer)).status == 200
        assert (await call(port, bearer=bearer)).status == 200
        await asyncio.sleep(max(0.0, exp - time.time()) + 0.05)
        assert_invalid_token(await call(port, bearer=bearer))
    assert len(up.requests) == 2
    assert decodes.count(bearer) == 2  # verified once, then checked again (and refused) after exp


async def test_refused_tokens_are_not_cached(decodes: list[str]) -> None:
    bearer = token(iss="https://evil.example")
    async with serve() as (_, port):
        for _ in range(3):
            assert_invalid_token(await call(port, bearer=bearer))
    assert len(decodes) == 3


async def test_cache_size_zero_verifies_every_time(decodes: list[str]) -> None:
    bearer = token()
    async with serve(auth={"jwt": jwt_config(cache_size=0)}) as (_, port):
        for _ in range(3):
            assert (await call(port, bearer=bearer)).status == 200
    assert len(decodes) == 3


async def test_a_full_cache_keeps_working(decodes: list[str]) -> None:
    async with serve(auth={"jwt": jwt_config(cache_size=4)}) as (_, port):
        tokens = [token(jti=str(i)) for i in range(10)]
        for bearer in tokens + tokens:
            assert (await call(port, bearer=bearer)).status == 200
    assert 10 < len(decodes) <= 20

"""Each balancer's distribution, observed from the upstreams' side over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from portway.testing import UpstreamRequest, UpstreamResponse, UpstreamServer, run_gateway, upstream_server

from .wire import RawClient, get, wait_for


@contextlib.asynccontextmanager
async def three_targets(
    balance: str, handlers: list[Any] | None = None, **upstream: Any
) -> AsyncIterator[tuple[list[UpstreamServer], int]]:
    handlers = handlers or [None, None, None]
    async with contextlib.AsyncExitStack() as stack:
        servers = [
            await stack.enter_async_context(upstream_server(h) if h else upstream_server()) for h in handlers
        ]
        config = {
            "upstreams": {"svc": {"targets": [s.address for s in servers], "balance": balance, **upstream}},
            "routes": [{"path": "/", "upstream": "svc"}],
        }
        gw = await stack.enter_async_context(run_gateway(config))
        yield servers, gw.port


def counts(servers: list[UpstreamServer]) -> list[int]:
    return [len(s.requests) for s in servers]


async def test_round_robin_is_even_and_in_turn() -> None:
    async with three_targets("round_robin") as (servers, port):
        client = await RawClient.connect(port)
        for i in range(30):
            assert (await client.request(get(f"/{i}"))).status == 200
        await client.close()
        assert counts(servers) == [10, 10, 10]
        # in turn: each target sees every third request
        for index, server in enumerate(servers):
            offset = int(server.requests[0].target[1:])
            assert [r.target for r in server.requests] == [f"/{i}" for i in range(offset, 30, 3)], index


@pytest.mark.parametrize(("balance", "expected_on_slow"), [("least_conn", 1), ("round_robin", 4)])
async def test_least_conn_avoids_the_busy_target(balance: str, expected_on_slow: int) -> None:
    """One target holds every request it gets; the others answer at once. Requests start one after
    another, each once the previous is answered or parked at the slow target: least_conn sends the
    slow one nothing more once it is busy, round robin keeps feeding it its third."""
    gate = asyncio.Event()

    async def slow(request: UpstreamRequest) -> UpstreamResponse:
        await gate.wait()
        return UpstreamResponse(body=b"slow")

    async with (
        three_targets(balance, [slow, None, None]) as (servers, port),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
    ):
        slow_server = servers[0]
        tasks = []
        for i in range(12):
            parked = len(slow_server.requests)
            task = asyncio.create_task(client.get(f"/{i}"))
            tasks.append(task)
            await wait_for(lambda t=task, p=parked: t.done() or len(slow_server.requests) > p)  # type: ignore[misc]
        assert len(slow_server.requests) == expected_on_slow
        gate.set()
        responses = await asyncio.gather(*tasks)
        assert all(r.status_code == 200 for r in responses)
        fast = counts(servers)[1:]
        assert sum(fast) == 12 - expected_on_slow
        assert abs(fast[0] - fast[1]) <= 1  # ties go round robin


async def test_least_conn_under_concurrency_with_a_slow_target() -> None:
    """The same under real concurrency: a slow target (200 ms) gets far fewer of 60 requests."""

    async def slow(request: UpstreamRequest) -> UpstreamResponse:
        await asyncio.sleep(0.2)  # being slow is the point: 0.2 s stays slow on a loaded machine
        return UpstreamResponse(body=b"slow")

    async with (
        three_targets("least_conn", [slow, None, None]) as (servers, port),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
    ):

        async def worker(n: int) -> None:
            for i in range(10):
                assert (await client.get(f"/{n}/{i}")).status_code == 200

        await asyncio.gather(*(worker(n) for n in range(6)))
        slow_count, *fast = counts(servers)
        assert slow_count + sum(fast) == 60
        assert slow_count < min(fast) / 2, counts(servers)


async def test_hash_on_header_is_sticky_and_spreads_keys() -> None:
    async with three_targets("hash", hash_on="header:X-Session-Key") as (servers, port):
        client = await RawClient.connect(port)
        users = [f"user-{n}" for n in range(60)]
        for _ in range(3):
            for user in users:
                assert (await client.request(get("/", extra=f"X-Session-Key: {user}\r\n"))).status == 200
        await client.close()
        owner: dict[str, set[int]] = {}
        for index, server in enumerate(servers):
            for request in server.requests:
                owner.setdefault(request.header("x-session-key") or "", set()).add(index)
        assert all(len(targets) == 1 for targets in owner.values())  # same key, same target
        assert set(owner) == set(users)
        spread = Counter(next(iter(t)) for t in owner.values())
        assert len(spread) == 3 and min(spread.values()) >= 5, spread  # keys spread over targets


async def test_hash_without_the_header_falls_back_to_round_robin() -> None:
    async with three_targets("hash", hash_on="header:X-Session-Key") as (servers, port):
        client = await RawClient.connect(port)
        for i in range(9):
            assert (await client.request(get(f"/{i}"))).status == 200
        await client.close()
        assert counts(servers) == [3, 3, 3]


async def test_hash_on_client_ip_is_sticky_and_spreads_addresses() -> None:
    async with three_targets("hash", hash_on="ip") as (servers, port):
        addresses = [f"127.0.0.{n}" for n in range(2, 42)]
        for _ in range(2):
            for address in addresses:
                reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0))
                client = RawClient(reader, writer)
                for _ in range(2):
                    assert (await client.request(get("/"))).status == 200
                await client.close()
        owner: dict[str, set[int]] = {}
        for index, server in enumerate(servers):
            for request in server.requests:
                owner.setdefault(request.header("x-forwarded-for") or "", set()).add(index)
        assert set(owner) == set(addresses)
        assert all(len(targets) == 1 for targets in owner.values())
        spread = Counter(next(iter(t)) for t in owner.values())
        assert len(spread) == 3 and min(spread.values()) >= 3, spread

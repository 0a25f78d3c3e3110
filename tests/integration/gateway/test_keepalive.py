"""Upstream keep-alive: one connection carries many requests; a connection the upstream closed (by
saying so, while idle, or just as it is reused) is never reused and costs the client nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx

from portway.testing import UpstreamRequest, UpstreamResponse, run_gateway, upstream_server

from .wire import RawClient, get, route_config, wait_for


async def test_many_sequential_requests_share_one_upstream_connection() -> None:
    async with upstream_server() as up, run_gateway(route_config(up.address)) as gw:
        # several client connections, one after the other, and methods with and without bodies
        for round_ in range(3):
            client = await RawClient.connect(gw.port)
            for i in range(10):
                assert (await client.request(get(f"/r{round_}/{i}"))).status == 200
            response = await client.request(b"POST /p HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\n\r\nabc")
            assert response.status == 200
            await client.close()
        assert len(up.requests) == 33
        assert up.connections == 1
        assert {r.connection for r in up.requests} == {1}


async def test_concurrent_clients_open_at_most_one_connection_each() -> None:
    async with upstream_server() as up, run_gateway(route_config(up.address)) as gw:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{gw.port}", limits=httpx.Limits(max_connections=4)
        ) as client:
            for _ in range(5):
                results = await asyncio.gather(*(client.get(f"/c{i}") for i in range(4)))
                assert [r.status_code for r in results] == [200] * 4
        assert len(up.requests) == 20
        assert up.connections <= 4


async def upstream_says_close(request: UpstreamRequest) -> UpstreamResponse:
    return UpstreamResponse(body=b"bye", close=True)


async def test_connection_close_from_upstream_is_not_reused() -> None:
    async with upstream_server(upstream_says_close) as up, run_gateway(route_config(up.address)) as gw:
        client = await RawClient.connect(gw.port)
        for i in range(5):
            response = await client.request(get(f"/{i}"))
            assert (response.status, response.body) == (200, b"bye")
            assert not response.closes  # the client's connection is not the upstream's
        await client.close()
        assert up.connections == 5
        assert [r.connection for r in up.requests] == [1, 2, 3, 4, 5]


# A hand-made upstream for what the harness' server does not do: closing on its own schedule.
Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


class RawUpstream:
    def __init__(self) -> None:
        self.connections = 0
        self.address = ""


@contextlib.asynccontextmanager
async def raw_upstream(serve: Serve) -> AsyncIterator[RawUpstream]:
    """A loopback server running ``serve(reader, writer, connection_number)`` per connection."""
    upstream = RawUpstream()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream.connections += 1
        try:
            await serve(reader, writer, upstream.connections)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    upstream.address = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield upstream
    finally:
        server.close()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def answer_then_close_while_idle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int
) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(OK)  # keep-alive as far as the gateway can tell...
    await writer.drain()
    # ...then the upstream's own idle timeout closes it (writer.close() in the wrapper)


async def test_idle_connection_closed_by_the_upstream_is_dropped() -> None:
    async with raw_upstream(answer_then_close_while_idle) as up, run_gateway(route_config(up.address)) as gw:
        pool = gw.gateway.upstreams["svc"].pools[0]
        client = await RawClient.connect(gw.port)
        for i in range(3):
            assert (await client.request(get(f"/{i}"))).body == b"ok"
            # the gateway notices the FIN while the connection sits idle and forgets it
            await wait_for(lambda: pool.open == 0)
        await client.close()
        assert up.connections == 3


async def close_when_reused(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(OK)
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")  # the next request arrives: close without answering,
    # as a server does when its keep-alive timer fires just as the gateway reuses the connection


async def test_connection_closed_just_as_it_is_reused_is_retried_for_idempotent_requests() -> None:
    async with raw_upstream(close_when_reused) as up, run_gateway(route_config(up.address)) as gw:
        client = await RawClient.connect(gw.port)
        for i in range(4):
            response = await client.request(get(f"/{i}"))
            assert (response.status, response.body) == (200, b"ok"), response.body
        await client.close()
        assert up.connections == 4  # each reuse failed and was replayed on a fresh connection


async def test_connection_closed_as_it_is_reused_is_not_retried_for_post() -> None:
    """A POST may have been acted on: the client hears 502 rather than a silent replay."""
    async with raw_upstream(close_when_reused) as up, run_gateway(route_config(up.address)) as gw:
        client = await RawClient.connect(gw.port)
        assert (await client.request(get("/first"))).status == 200
        response = await client.request(b"POST /p HTTP/1.1\r\nHost: gw\r\nContent-Length: 0\r\n\r\n")
        assert response.status == 502
        await client.close()
        assert up.connections == 1

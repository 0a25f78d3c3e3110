"""``Expect: 100-continue`` and pipelined requests."""

from __future__ import annotations

import asyncio

from portway.testing import UpstreamRequest, UpstreamResponse, run_gateway, upstream_server

from .wire import RawClient, get, route_config


async def test_expect_100_continue_then_the_final_response() -> None:
    async with upstream_server() as up, run_gateway(route_config(up.address)) as gw:
        client = await RawClient.connect(gw.port)
        await client.send(b"PUT /e HTTP/1.1\r\nHost: gw\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        interim = await client.read_head()
        assert interim.status == 100
        assert interim.headers == []
        response = await client.request(b"hello")
        assert response.status == 200
        assert response.json()["body_size"] == 5
        # and a second one on the same connection, now with a warm upstream pool
        await client.send(b"PUT /e HTTP/1.1\r\nHost: gw\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        assert (await client.read_head()).status == 100
        assert (await client.request(b"abc")).status == 200
        await client.close()
        assert [r.body for r in up.requests] == [b"hello", b"abc"]
        assert all(r.header("expect") is None for r in up.requests)  # the gateway answered it


async def test_expect_with_a_refused_body_gets_no_100() -> None:
    """The point of 100-continue: a body the gateway will refuse is never asked for."""
    config = route_config("http://127.0.0.1:1", limits={"max_body": "1KB"})
    async with run_gateway(config) as gw:
        client = await RawClient.connect(gw.port)
        response = await client.request(
            b"PUT /e HTTP/1.1\r\nHost: gw\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n"
        )
        assert response.status == 413
        await client.close()


async def test_expect_to_an_unknown_route_gets_no_100() -> None:
    async with upstream_server() as up, run_gateway(route_config(up.address, {"path": "/api/"})) as gw:
        client = await RawClient.connect(gw.port)
        response = await client.request(
            b"PUT /elsewhere HTTP/1.1\r\nHost: gw\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
        )
        assert response.status == 404
        await client.close()
        assert up.requests == []


async def test_expect_in_http10_is_ignored() -> None:
    async with upstream_server() as up, run_gateway(route_config(up.address)) as gw:
        client = await RawClient.connect(gw.port)
        await client.send(b"PUT /e HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi")
        response = await client.read_response()
        assert response.status == 200  # no interim 100 first
        await client.close()


async def test_pipelined_gets_are_answered_in_order() -> None:
    async def slow_first(request: UpstreamRequest) -> UpstreamResponse:
        if request.target == "/slow":
            await asyncio.sleep(0.1)  # the first answer is the slow one
        return UpstreamResponse(body=request.target.encode())

    async with upstream_server(slow_first) as up, run_gateway(route_config(up.address)) as gw:
        client = await RawClient.connect(gw.port)
        await client.send(get("/slow") + get("/fast"))
        first = await client.read_response()
        second = await client.read_response()
        assert (first.body, second.body) == (b"/slow", b"/fast")
        # a longer pipeline mixing bodies, a HEAD and a refused target: the 400 is the last answer
        # (nothing after a request the gateway could not read as meant is served)
        await client.send(
            get("/a")
            + b"POST /b HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\n\r\nxyz"
            + b"HEAD /d HTTP/1.1\r\nHost: gw\r\n\r\n"
            + b"GET /%00 HTTP/1.1\r\nHost: gw\r\n\r\n"
            + get("/e")
        )
        statuses = []
        for head_only in (False, False, True, False):
            response = await client.read_response(head_only=head_only)
            statuses.append((response.status, response.body))
        assert statuses == [(200, b"/a"), (200, b"/b"), (200, b""), (400, statuses[3][1])]
        assert await client.reader.read() == b""  # closed: /e was never served
        await client.close()
        assert [r.target for r in up.requests] == ["/slow", "/fast", "/a", "/b", "/d"]
        assert up.requests[3].body == b"xyz"


async def test_pipelined_request_after_connection_close_is_not_served() -> None:
    async with upstream_server() as up, run_gateway(route_config(up.address)) as gw:
        client = await RawClient.connect(gw.port)
        await client.send(get("/one", extra="Connection: close\r\n") + get("/two"))
        response = await client.read_response()
        assert response.status == 200
        assert response.closes
        assert await client.closed_by_peer()
        await client.close()
        assert [r.target for r in up.requests] == ["/one"]

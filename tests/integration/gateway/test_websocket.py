"""WebSocket through the gateway: the Upgrade is proxied and then both directions are a byte pump."""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
from collections.abc import AsyncIterator

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from portway.testing import run_gateway

from .wire import RawClient, route_config


async def echo(ws: ServerConnection) -> None:
    if ws.request is not None and ws.request.path.endswith("/greet"):
        await ws.send("hello from upstream")  # the server speaks first, right after the handshake
    async for message in ws:
        await ws.send(message)


@contextlib.asynccontextmanager
async def ws_gateway() -> AsyncIterator[tuple[int, list[str]]]:
    paths: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        paths.append(ws.request.path)
        await echo(ws)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        config = route_config(f"http://127.0.0.1:{port}", {"path": "/ws/", "rewrite": "/socket/"})
        async with run_gateway(config) as gw:
            yield gw.port, paths


async def test_websocket_echo() -> None:
    async with ws_gateway() as (port, paths), connect(f"ws://127.0.0.1:{port}/ws/echo?room=1") as ws:
        await ws.send("first")  # sent right after the handshake
        assert await ws.recv() == "first"
        await ws.send(b"\x00\x01binary\xff")
        assert await ws.recv() == b"\x00\x01binary\xff"
        big = os.urandom(512 * 1024)  # under websockets' 1 MiB default max_size
        await ws.send(big)
        assert await ws.recv() == big
        for i in range(50):
            await ws.send(f"m{i}")
        assert [await ws.recv() for _ in range(50)] == [f"m{i}" for i in range(50)]
        await ws.ping()
        assert paths == ["/socket/echo?room=1"]


async def test_server_message_right_after_the_handshake() -> None:
    async with ws_gateway() as (port, _), connect(f"ws://127.0.0.1:{port}/ws/greet") as ws:
        async with asyncio.timeout(5):
            assert await ws.recv() == "hello from upstream"
        await ws.send("and back")
        assert await ws.recv() == "and back"


def masked_text_frame(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + masked


async def test_client_frame_in_the_same_write_as_the_upgrade_request() -> None:
    """Bytes after the upgrade request's head (in the same segment) reach the upstream."""
    async with ws_gateway() as (port, _):
        client = await RawClient.connect(port)
        handshake = (
            b"GET /ws/echo HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await client.send(handshake + masked_text_frame("eager"))
        head = await client.read_head()
        assert head.status == 101
        assert head.header("upgrade") == "websocket"
        assert head.header("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        async with asyncio.timeout(5):
            frame = await client.reader.readexactly(2 + len("eager"))
        assert frame == b"\x81\x05eager"  # the echo, unmasked from the server
        await client.close()


async def test_closing_either_side_ends_the_tunnel() -> None:
    async with ws_gateway() as (port, _):
        async with connect(f"ws://127.0.0.1:{port}/ws/echo") as ws:
            await ws.send("x")
            assert await ws.recv() == "x"
        # the close handshake went through the pump both ways
        assert ws.close_code == 1000

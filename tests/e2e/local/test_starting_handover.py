"""The start-up placeholder over real loopback sockets (bytes out, bytes in): 503 problem+json with
``Retry-After`` while starting, then the port handed to the gateway with no connection refused."""

from __future__ import annotations

import asyncio
import json

from portway.config import GatewayConfig
from portway.local.starting import Placeholder
from portway.runtime import start
from portway.server.listener import bind_tcp
from portway.testing import upstream_server

REQUEST = b"GET /item HTTP/1.1\r\nhost: shop.test\r\n\r\n"


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, dict[bytes, bytes], bytes]:
    async with asyncio.timeout(5):
        status = await reader.readline()
        headers = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
    return status, headers, body


async def test_the_placeholder_answers_503_then_hands_the_port_to_the_gateway() -> None:
    async with upstream_server() as upstream:
        config = GatewayConfig.model_validate(
            {
                "listen": "127.0.0.1:0",
                "access_log": {"enabled": False},
                "shutdown_grace": "2s",
                "upstreams": {"u": {"targets": [upstream.address]}},
                "routes": [{"path": "/", "upstream": "u"}],
            }
        )
        sock = bind_tcp(config.listen)
        port = sock.getsockname()[1]
        placeholder = await Placeholder.open(config, sock)
        placeholder.app.phase = "seeding demo data"

        early_reader, early_writer = await asyncio.open_connection("127.0.0.1", port)
        early_writer.write(REQUEST)
        status, headers, body = await read_response(early_reader)
        assert status.startswith(b"HTTP/1.1 503 ")
        assert headers[b"retry-after"] == b"1"
        assert headers[b"content-type"].startswith(b"application/problem+json")
        problem = json.loads(body)
        assert problem["status"] == 503 and "seeding demo data" in problem["detail"]

        await placeholder.close()
        # Its idle keep-alive connection is closed, so that client reconnects (to the gateway).
        async with asyncio.timeout(5):
            assert await early_reader.read() == b""
        early_writer.close()

        # Between the two, the socket still listens: a connect waits in the backlog, not refused...
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(REQUEST)
        running = await start(config, sock=sock)
        try:
            # ...and the gateway answers it, from the upstream.
            status, _, body = await read_response(reader)
            assert status.startswith(b"HTTP/1.1 200 "), (status, body)
            assert json.loads(body)["target"] == "/item"
            assert running.port == port
        finally:
            writer.close()
            await running.drain()

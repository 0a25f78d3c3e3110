"""Test harness over real loopback sockets (STYLE.md §10), shipped so users can test their configs.

- :func:`run_gateway` starts a gateway in the running event loop on ``127.0.0.1:0`` and always
  drains it on exit.
- :func:`upstream_server` is a small real HTTP/1.1 server (TCP or unix socket) whose handler gets
  each parsed request; it counts connections, so keep-alive reuse can be asserted from outside.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from portway.config import GatewayConfig
from portway.server.serve import RunningServer, start


@contextlib.asynccontextmanager
async def run_gateway(config: GatewayConfig | dict[str, Any]) -> AsyncIterator[RunningServer]:
    if isinstance(config, dict):
        config = GatewayConfig.model_validate(
            {"listen": "127.0.0.1:0", "access_log": {"enabled": False}, "shutdown_grace": "2s"} | config
        )
    running = await start(config)
    try:
        yield running
    finally:
        if not running.stopped.is_set():
            await running.drain()


@dataclass
class UpstreamRequest:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    body_size: int
    connection: int

    def header(self, name: str) -> str | None:
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]


@dataclass
class UpstreamResponse:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | AsyncIterator[bytes] = b""
    chunked: bool = False  # with an iterator body: chunked framing, else close-delimited
    close: bool = False


Handler = Callable[[UpstreamRequest], Awaitable[UpstreamResponse]]


async def echo(request: UpstreamRequest) -> UpstreamResponse:
    """Default handler: the request as JSON."""
    doc = {
        "method": request.method,
        "target": request.target,
        "headers": request.headers,
        "body_size": request.body_size,
        "connection": request.connection,
    }
    return UpstreamResponse(headers=[("Content-Type", "application/json")], body=json.dumps(doc).encode())


class UpstreamServer:
    def __init__(self, handler: Handler, keep_body: bool) -> None:
        self.handler = handler
        self.keep_body = keep_body
        self.requests: list[UpstreamRequest] = []
        self.connections = 0
        self.open_connections = 0
        self.server: asyncio.Server | None = None
        self.address = ""
        self._ids = itertools.count(1)

    @property
    def port(self) -> int:
        assert self.server is not None
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn_id = next(self._ids)
        self.connections += 1
        self.open_connections += 1
        try:
            while True:
                request = await self._read_request(reader, conn_id)
                if request is None:
                    break
                self.requests.append(request)
                response = await self.handler(request)
                await self._write_response(writer, request, response)
                if response.close or request.header("connection") == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open_connections -= 1
            writer.close()

    async def _read_request(self, reader: asyncio.StreamReader, conn_id: int) -> UpstreamRequest | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = [(k, v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if line)]
        request = UpstreamRequest(method, target, headers, b"", 0, conn_id)
        chunks: list[bytes] = []
        if (request.header("transfer-encoding") or "").lower() == "chunked":
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                await self._read_exact(reader, size, chunks, request)
                await reader.readexactly(2)
        elif length := int(request.header("content-length") or 0):
            await self._read_exact(reader, length, chunks, request)
        request.body = b"".join(chunks)
        return request

    async def _read_exact(
        self, reader: asyncio.StreamReader, size: int, chunks: list[bytes], request: UpstreamRequest
    ) -> None:
        while size > 0:
            data = await reader.read(min(size, 1 << 16))
            if not data:
                raise asyncio.IncompleteReadError(b"", size)
            size -= len(data)
            request.body_size += len(data)
            if self.keep_body:
                chunks.append(data)

    @staticmethod
    async def _write_response(
        writer: asyncio.StreamWriter, request: UpstreamRequest, response: UpstreamResponse
    ) -> None:
        lines = [f"HTTP/1.1 {response.status} X"]
        lines += [f"{k}: {v}" for k, v in response.headers]
        body = response.body
        if isinstance(body, bytes):
            if not any(k.lower() == "content-length" for k, _ in response.headers):
                lines.append(f"Content-Length: {len(body)}")
        elif response.chunked:
            lines.append("Transfer-Encoding: chunked")
        if response.close:
            lines.append("Connection: close")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if request.method == "HEAD":
            await writer.drain()
            return
        if isinstance(body, bytes):
            writer.write(body)
        else:
            async for chunk in body:
                writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if response.chunked else chunk)
                await writer.drain()
            if response.chunked:
                writer.write(b"0\r\n\r\n")
        await writer.drain()


@contextlib.asynccontextmanager
async def upstream_server(
    handler: Handler = echo, *, uds: str | None = None, keep_body: bool = True
) -> AsyncIterator[UpstreamServer]:
    upstream = UpstreamServer(handler, keep_body)
    if uds is not None:
        upstream.server = await asyncio.start_unix_server(upstream._serve, uds)
        upstream.address = f"unix:{uds}"
    else:
        upstream.server = await asyncio.start_server(upstream._serve, "127.0.0.1", 0)
        upstream.address = f"http://127.0.0.1:{upstream.port}"
    try:
        yield upstream
    finally:
        upstream.server.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await upstream.server.wait_closed()

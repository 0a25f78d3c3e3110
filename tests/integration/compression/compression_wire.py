"""A raw HTTP/1.x client for compression tests over loopback: exactly the bytes given go out,
and the response comes back as sent (still encoded), read by Content-Length, chunks or EOF."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from portway.testing import HeaderLookup


@dataclass
class Response(HeaderLookup):
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""

    @property
    def chunked(self) -> bool:
        return (self.header("transfer-encoding") or "").lower() == "chunked"


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def head(self, within: float = 5.0) -> Response:
        async with asyncio.timeout(within):
            raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = [(k, v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if line)]
        return Response(status, headers)

    async def pieces(self, response: Response, within: float = 5.0) -> AsyncIterator[bytes]:
        """The body as it arrives, each piece bounded: chunk by chunk, or in reads up to 1 MB."""
        async with asyncio.timeout(within):
            if response.status in (204, 304) or 100 <= response.status < 200:
                return
            if response.chunked:
                while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                    yield await self.reader.readexactly(size)
                    await self.reader.readexactly(2)
                await self.reader.readuntil(b"\r\n")
            elif (length := response.header("content-length")) is not None:
                left = int(length)
                while left:
                    piece = await self.reader.read(min(left, 1 << 20))
                    if not piece:
                        raise ConnectionError("closed inside the body")
                    left -= len(piece)
                    yield piece
            else:
                while piece := await self.reader.read(1 << 20):
                    yield piece

    async def request(self, data: bytes, head_only: bool = False, within: float = 5.0) -> Response:
        await self.send(data)
        response = await self.head(within)
        if not head_only:
            response.body = b"".join([p async for p in self.pieces(response, within)])
        return response

    async def closed_by_peer(self, within: float = 5.0) -> bool:
        try:
            async with asyncio.timeout(within):
                return await self.reader.read(65536) == b""
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


def get(path: str, accept: str | None = "gzip, br, zstd", method: str = "GET", version: str = "1.1") -> bytes:
    line = f"{method} {path} HTTP/{version}\r\nHost: gw\r\n"
    if accept is not None:
        line += f"Accept-Encoding: {accept}\r\n"
    return (line + "\r\n").encode()


def config(upstream: str, **compression: object) -> dict[str, object]:
    """One upstream, one catch-all route, compression on at the top level with these settings."""
    return {
        "upstreams": {"svc": {"targets": [upstream]}},
        "routes": [{"path": "/", "upstream": "svc"}],
        "compression": compression,
    }


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KB, from /proc."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


@contextlib.asynccontextmanager
async def connected(port: int) -> AsyncIterator[Client]:
    """A client connection that is closed however the test leaves it."""
    client = await Client.connect(port)
    try:
        yield client
    finally:
        await client.close()

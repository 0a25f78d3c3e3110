"""Small helpers for gateway tests over real loopback sockets (the subprocess gateway harness,
``gateway_process``, lives in :mod:`portway.testing`).

httpx normalises request targets, so anything about the wire (traversal tricks, framing, pipelining)
goes through :class:`RawClient` / :func:`raw_exchange`, which send exactly the bytes given.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portway.testing import GatewayProcess, HeaderLookup, gateway_process

__all__ = ["GatewayProcess", "gateway_process"]


async def raw_exchange(port: int, data: bytes, within: float = 5.0) -> bytes:
    """Send raw bytes, return everything the gateway answers until it closes (or ``within`` seconds)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    chunks = []
    try:
        async with asyncio.timeout(within):
            while chunk := await reader.read(65536):
                chunks.append(chunk)
    except TimeoutError:
        pass
    except ConnectionResetError:
        pass
    finally:
        writer.close()
    return b"".join(chunks)


@dataclass
class RawResponse(HeaderLookup):
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    version: str = "HTTP/1.1"

    def has_header(self, name: str) -> bool:
        return bool(self.header_all(name))

    @property
    def closes(self) -> bool:
        return (self.header("connection") or "").lower() == "close"

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def chunked(self) -> bool:
        return (self.header("transfer-encoding") or "").lower() == "chunked"


def parse_head(head: bytes) -> RawResponse:
    lines = head.decode("latin-1").split("\r\n")
    version, status, *rest = lines[0].split(" ", 2)
    headers = [(k, v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if line)]
    return RawResponse(int(status), rest[0] if rest else "", headers, b"", version)


class RawClient:
    """One client connection sending raw bytes and reading whole responses (CL, chunked or EOF)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_head(self, within: float = 5.0) -> RawResponse:
        async with asyncio.timeout(within):
            return parse_head(await self.reader.readuntil(b"\r\n\r\n"))

    async def read_response(self, head_only: bool = False, within: float = 5.0) -> RawResponse:
        """Read one final response (1xx interim responses are returned as they come)."""
        async with asyncio.timeout(within):
            response = parse_head(await self.reader.readuntil(b"\r\n\r\n"))
            if head_only or 100 <= response.status < 200 or response.status in (204, 304):
                return response
            if response.chunked:
                chunks = []
                while True:
                    size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    if size == 0:
                        await self.reader.readuntil(b"\r\n")
                        break
                    chunks.append(await self.reader.readexactly(size))
                    await self.reader.readexactly(2)
                response.body = b"".join(chunks)
            elif (length := response.header("content-length")) is not None:
                response.body = await self.reader.readexactly(int(length))
            else:
                response.body = await self.reader.read(-1)
            return response

    async def request(self, data: bytes, **kw: Any) -> RawResponse:
        await self.send(data)
        return await self.read_response(**kw)

    async def closed_by_peer(self, within: float = 5.0) -> bool:
        """True when the gateway closes the connection (EOF or reset) within ``within``."""
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


def parse_all(data: bytes) -> list[RawResponse]:
    """Split a byte stream of whole responses with Content-Length framing (gateway errors, tests)."""
    out = []
    while data:
        head, sep, data = data.partition(b"\r\n\r\n")
        if not sep:
            break
        response = parse_head(head)
        length = int(response.header("content-length") or 0)
        response.body, data = data[:length], data[length:]
        out.append(response)
    return out


def get(path: str, host: str = "gw", extra: str = "") -> bytes:
    """A minimal HTTP/1.1 GET with exactly the target given."""
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode("latin-1")


async def wait_for(predicate: Callable[[], bool], within: float = 5.0, interval: float = 0.01) -> None:
    """Poll a condition with a deadline (for states no event reports)."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - no event reports these states
            await asyncio.sleep(interval)


async def gather_limited(calls: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    return await asyncio.gather(*(call() for call in calls))


def route_config(
    targets: str | list[str], *routes: dict[str, Any], options: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """A config with one upstream named ``svc`` (``options`` are its settings besides the targets)
    and the given routes to it (a catch-all prefix by default); ``extra`` goes to the top level."""
    targets = [targets] if isinstance(targets, str) else targets
    return {
        "upstreams": {"svc": {"targets": targets} | (options or {})},
        "routes": [{"upstream": "svc"} | r for r in routes] or [{"path": "/", "upstream": "svc"}],
        **extra,
    }


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KB, from /proc."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out

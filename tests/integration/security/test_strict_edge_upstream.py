"""A strict edge, upstream response heads over a size or header-count limit become a 502
problem+json and the upstream connection is closed (``limits.max_response_header_bytes``, default
64 KiB; ``limits.max_response_headers``, default 200). The upstream here is a raw asyncio server,
so it can send heads no HTTP library would write."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from .test_strict_edge import WITHIN, assert_problem, exchange, request, scripted


@dataclass
class RawUpstream:
    """Answers every request with ``head`` (then a 2-byte body) and records when the gateway closes."""

    head: bytes
    requests: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.append(task)
        self.writers.append(writer)
        try:
            await reader.readuntil(b"\r\n\r\n")
            self.requests += 1
            writer.write(self.head + b"ok")
            await writer.drain()
            while await reader.read(65536):  # until the gateway closes its side
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.closed.set()
            writer.close()


@contextlib.asynccontextmanager
async def raw_upstream(head: bytes, **config: Any) -> AsyncIterator[tuple[RawUpstream, int]]:
    upstream = RawUpstream(head)
    async with scripted(upstream, **config) as port:
        yield upstream, port


def head(count: int, value_size: int = 8) -> bytes:
    lines = [b"HTTP/1.1 200 OK", b"Content-Length: 2"]
    lines += [b"X-H%d: %s" % (i, b"v" * value_size) for i in range(count)]
    return b"\r\n".join(lines) + b"\r\n\r\n"


OVER_DEFAULTS = {
    "201-headers": head(201),
    "500-headers": head(500),
    "5000-headers": head(5000),
    "one-huge-header": head(1, 70 * 1024),
    "head-over-64k": head(100, 1024),  # 100 headers (under the count) of 1 KiB: ~100 KiB
    "huge-status-line": b"HTTP/1.1 200 " + b"O" * (70 * 1024) + b"\r\nContent-Length: 2\r\n\r\n",
}


@pytest.mark.parametrize("data", OVER_DEFAULTS.values(), ids=OVER_DEFAULTS.keys())
async def test_response_heads_over_the_default_limits_are_a_502(data: bytes) -> None:
    async with raw_upstream(data) as (upstream, port):
        answer = await exchange(port, request("GET /x HTTP/1.1", "Connection: close"))
        assert_problem(answer, 502)
        assert answer.body != b"ok"
        async with asyncio.timeout(WITHIN):
            await upstream.closed.wait()  # the gateway closed the upstream connection
        assert upstream.requests == 1


@pytest.mark.parametrize("data", [head(199), head(40, 1024)], ids=["199-headers", "head-of-40k"])
async def test_response_heads_within_the_default_limits_pass(data: bytes) -> None:
    async with raw_upstream(data) as (_, port):
        answer = await exchange(port, request("GET /x HTTP/1.1", "Connection: close"))
        assert answer.status == 200, answer.body
        assert answer.body == b"ok"


LIMITS = {"max_response_header_bytes": "4KB", "max_response_headers": 20}


@pytest.mark.parametrize(
    ("data", "status"),
    [(head(21), 502), (head(10, 512), 502), (head(15), 200), (head(2, 1024), 200)],
    ids=["21-headers", "5k-head", "15-headers", "2k-head"],
)
async def test_configured_limits(data: bytes, status: int) -> None:
    async with raw_upstream(data, limits=LIMITS) as (upstream, port):
        answer = await exchange(port, request("GET /x HTTP/1.1", "Connection: close"))
        if status == 502:
            assert_problem(answer, 502)
            async with asyncio.timeout(WITHIN):
                await upstream.closed.wait()
        else:
            assert answer.status == 200 and answer.body == b"ok"

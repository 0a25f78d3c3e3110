"""A strict edge, request bodies: chunk sizes that overflow or exceed the body limit, chunk
extensions beyond a small bound → refused, closed, nothing forwarded; a client that goes away
mid-body gets its connection closed and the upstream request is aborted (never completed)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from .test_strict_edge import WITHIN, assert_refused_and_closed, edge, exchange, scripted

LIMIT = 1024  # limits.max_body for these tests
CHUNKED = b"POST /x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n"

OVERSIZED_CHUNKS = {
    "overflow-18-hex": (b"ffffffffffffffffff\r\nhello\r\n0\r\n\r\n", (400, 413)),
    "overflow-64-bit": (b"10000000000000000\r\nhello\r\n0\r\n\r\n", (400, 413)),
    "over-the-limit": (b"%x\r\n" % (LIMIT + 1) + b"a" * (LIMIT + 1) + b"\r\n0\r\n\r\n", (413,)),
    "far-over-the-limit": (b"7fffffff\r\nhello\r\n0\r\n\r\n", (413,)),
    "sum-over-the-limit": (
        b"200\r\n" + b"a" * 512 + b"\r\n" + b"201\r\n" + b"a" * 513 + b"\r\n0\r\n\r\n",
        (413,),
    ),
}


@pytest.mark.parametrize(("body", "statuses"), OVERSIZED_CHUNKS.values(), ids=OVERSIZED_CHUNKS.keys())
async def test_chunk_sizes_that_overflow_or_exceed_the_limit_are_refused(
    body: bytes, statuses: tuple[int, ...]
) -> None:
    async with edge(limits={"max_body": LIMIT}) as (up, port):
        answer = await exchange(port, CHUNKED + body)
        assert_refused_and_closed(answer, *statuses)
        assert up.requests == []


@pytest.mark.parametrize("length", [1025, 4096, 65536])
@pytest.mark.parametrize("where", ["first", "last"])
async def test_long_chunk_extensions_are_refused(length: int, where: str) -> None:
    extension = b";x=" + b"a" * length
    if where == "first":
        body = b"5" + extension + b"\r\nhello\r\n0\r\n\r\n"
    else:
        body = b"5\r\nhello\r\n0" + extension + b"\r\n\r\n"
    async with edge() as (up, port):
        answer = await exchange(port, CHUNKED + body)
        assert_refused_and_closed(answer, 400, 413, 431)
        assert up.requests == []


async def test_many_small_extensions_are_refused_too() -> None:
    """The bound is on the extension bytes of a chunk, not per ``;name=value``."""
    body = b"5" + b";a=b" * 1000 + b"\r\nhello\r\n0\r\n\r\n"
    async with edge() as (up, port):
        assert_refused_and_closed(await exchange(port, CHUNKED + body), 400, 413, 431)
        assert up.requests == []


async def test_short_chunk_extensions_pass() -> None:
    """The control: an extension of a few bytes is legal (RFC 9112 §7.1.1) and ignored."""
    async with edge() as (up, port):
        answer = await exchange(port, CHUNKED.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
                                + b"5;name=value\r\nhello\r\n0\r\n\r\n")  # fmt: skip
        assert answer.status == 200
        assert [r.body for r in up.requests] == [b"hello"]


# -- a client that goes away mid-body --------------------------------------------------------------


@dataclass
class HeldUpstream:
    """A raw upstream that reads what the gateway sends and never answers: it reports when the
    gateway closes the connection (an aborted request) and what arrived before that."""

    received: bytearray = field(default_factory=bytearray)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.append(task)
        self.writers.append(writer)
        self.connected.set()
        try:
            while chunk := await reader.read(65536):
                self.received += chunk
        except ConnectionError:
            pass
        finally:
            self.closed.set()
            writer.close()


@contextlib.asynccontextmanager
async def held() -> AsyncIterator[tuple[HeldUpstream, int]]:
    upstream = HeldUpstream()
    async with scripted(upstream) as port:
        yield upstream, port


PARTIAL = {
    "content-length": b"POST /x HTTP/1.1\r\nHost: gw\r\nContent-Length: 100000\r\n\r\n" + b"a" * 1000,
    "chunked-mid-chunk": CHUNKED + b"3e8\r\n" + b"a" * 500,
    "chunked-between-chunks": CHUNKED + b"5\r\nhello\r\n",
    "chunked-mid-size": CHUNKED + b"5\r\nhello\r\n1",
}


@pytest.mark.parametrize("data", PARTIAL.values(), ids=PARTIAL.keys())
@pytest.mark.parametrize("how", ["half-close", "close"])
async def test_client_eof_mid_body_aborts_the_upstream_request(data: bytes, how: str) -> None:
    async with held() as (upstream, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(WITHIN):
            await upstream.connected.wait()  # the request was on its way upstream
        if how == "half-close":
            writer.write_eof()
            # the gateway closes the client connection (with a refusal or without a word)
            async with asyncio.timeout(WITHIN):
                answer = await reader.read()
            assert not answer.startswith(b"HTTP/1.1 2"), answer
        else:
            writer.close()
        async with asyncio.timeout(WITHIN):
            await upstream.closed.wait()  # the upstream request was aborted, not left hanging
        writer.close()
        # whatever reached the upstream is a prefix of the request, never a complete one
        assert bytes(upstream.received).endswith(b"0\r\n\r\n") is False

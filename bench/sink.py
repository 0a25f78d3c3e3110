"""Upstream for the streaming scenario: swallows any request body, or streams a large download.

    python bench/sink.py PORT

- any method except GET: the body (Content-Length or chunked) is counted and discarded; the answer
  is ``{"received": N}`` so run.sh can check every byte arrived through the gateway;
- ``GET /download/SIZE`` (bytes): SIZE zero bytes with a Content-Length, written as fast as the
  gateway reads them (we pause when the transport asks: the gateway's backpressure is what we test);
- any other GET: a small JSON body.

A plain asyncio Protocol with httptools (already a portway dependency): it holds no body in memory,
so the gateway's RSS is the only memory in question.
"""

from __future__ import annotations

import asyncio
import sys

import httptools

CHUNK = b"\0" * (256 * 1024)


class Sink(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.received = 0
        self.url = b""
        self.remaining = 0  # bytes of a download still to send
        self.can_write = asyncio.Event()
        self.can_write.set()

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._respond(400, b'{"error":"bad request"}', close=True)

    def pause_writing(self) -> None:
        self.can_write.clear()

    def resume_writing(self) -> None:
        self.can_write.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.can_write.set()  # let a download loop notice the closed transport and end
        self.remaining = 0

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.received = 0
        self.url = b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.received += len(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method()
        if method == b"GET" and self.url.startswith(b"/download/"):
            size = int(self.url.rsplit(b"/", 1)[1] or 0)
            asyncio.get_running_loop().create_task(self._download(size))
        elif method == b"GET":
            self._respond(200, b'{"ok":true,"from":"sink"}')
        else:
            self._respond(200, b'{"received":%d}' % self.received)

    def _respond(self, status: int, body: bytes, close: bool = False) -> None:
        assert self.transport is not None
        head = b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n" % status
        head += b"Content-Length: %d\r\n" % len(body)
        self.transport.write(head + (b"Connection: close\r\n\r\n" if close else b"\r\n") + body)
        if close:
            self.transport.close()

    async def _download(self, size: int) -> None:
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" % size
        )
        self.remaining = size
        while self.remaining > 0 and not self.transport.is_closing():
            await self.can_write.wait()
            n = min(self.remaining, len(CHUNK))
            self.transport.write(CHUNK if n == len(CHUNK) else CHUNK[:n])
            self.remaining -= n


async def main(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Sink, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))

"""Test harness over real loopback sockets (STYLE.md §10), shipped so users can test their configs.

- :func:`gateway_process` runs ``python -m portway run`` in a subprocess (signals, workers, RSS).

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
import socket
import ssl as ssl_module
import struct
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from portway.config import GatewayConfig
from portway.runtime import RunningServer, start


class _KeysAsNames(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, bool) and isinstance(key_node, yaml.ScalarNode):
                key = key_node.value
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


def load_yaml(text: str) -> Any:
    """A config file as data, its keys read as portway reads them: a key YAML 1.1 takes for a
    boolean (``retries: {on: [...]}``) is its name. For tests that edit a config and write it out
    again (``yaml.safe_dump`` quotes such a key)."""
    return yaml.load(text, Loader=_KeysAsNames)  # noqa: S506 - a SafeLoader subclass


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


class HeaderLookup:
    """Case-insensitive look-ups over a ``headers`` list of (name, value) text pairs."""

    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]


@dataclass
class UpstreamRequest(HeaderLookup):
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    body_size: int
    connection: int


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
    handler: Handler = echo,
    *,
    uds: str | None = None,
    keep_body: bool = True,
    ssl: ssl_module.SSLContext | None = None,
) -> AsyncIterator[UpstreamServer]:
    """With ``ssl`` (a server context), the upstream speaks HTTPS and its address is ``https://``."""
    upstream = UpstreamServer(handler, keep_body)
    if uds is not None:
        upstream.server = await asyncio.start_unix_server(upstream._serve, uds)
        upstream.address = f"unix:{uds}"
    else:
        upstream.server = await asyncio.start_server(upstream._serve, "127.0.0.1", 0, ssl=ssl)
        upstream.address = f"{'https' if ssl is not None else 'http'}://127.0.0.1:{upstream.port}"
    try:
        yield upstream
    finally:
        upstream.server.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await upstream.server.wait_closed()


@contextlib.contextmanager
def blackholed_address() -> Iterator[str]:
    """A loopback address whose accept queue is full and never drained: the kernel drops new SYNs,
    so a connect is neither accepted nor refused — it times out, like a firewalled host."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(2):  # backlog 0 admits one queued connection (+1): fill it
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        yield f"http://127.0.0.1:{port}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


@contextlib.asynccontextmanager
async def resetting_upstream() -> AsyncIterator[tuple[str, list[bytes]]]:
    """An upstream that reads each request (head and Content-Length body), records it, then resets
    the connection without a byte of answer: the request reached it, the client gets nothing."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ValueError):
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            seen.append(head + await reader.readexactly(length))
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close → RST
        writer.transport.abort()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", seen
    finally:
        server.close()
        await server.wait_closed()


class GatewayProcess:
    """``python -m portway run`` in a subprocess, for what only a real process shows: signals,
    workers, RSS. Its stderr is collected line by line; ``port`` is read from its startup log."""

    def __init__(self, config_path: Path, *args: str) -> None:
        self.config_path = config_path
        self.args = args
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []
        self.port = 0
        self._new_line = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, within: float = 15.0) -> GatewayProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "portway", "run", str(self.config_path), "--log-level", "info", *self.args,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read_stderr())
        line = await self.wait_for_line("listening on http://", within=within)
        self.port = int(line.rsplit(":", 1)[1].strip())
        return self

    async def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.lines.append(line.decode(errors="replace").rstrip())
            self._new_line.set()
        self._new_line.set()

    async def wait_for_line(self, fragment: str, within: float = 10.0, start: int = 0) -> str:
        """The first stderr line (from index ``start``) containing ``fragment``."""
        async with asyncio.timeout(within):
            while True:
                for line in self.lines[start:]:
                    if fragment in line:
                        return line
                if self._reader is not None and self._reader.done():
                    raise AssertionError(f"gateway exited without logging {fragment!r}:\n{self.stderr}")
                self._new_line.clear()
                await self._new_line.wait()

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    async def wait(self, within: float = 10.0) -> int:
        assert self.proc is not None
        async with asyncio.timeout(within):
            code = await self.proc.wait()
        if self._reader is not None:
            await self._reader
        return code

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            await self._reader


@contextlib.asynccontextmanager
async def gateway_process(
    config: dict[str, Any], tmp_path: Path, *args: str
) -> AsyncIterator[GatewayProcess]:
    """Write ``config`` (JSON is YAML) to ``tmp_path/portway.yaml`` and run it on 127.0.0.1:0."""
    path = tmp_path / "portway.yaml"
    config = {"listen": "127.0.0.1:0", "access_log": {"enabled": False}} | config
    path.write_text(json.dumps(config, indent=2))
    process = GatewayProcess(path, *args)
    try:
        yield await process.start()
    finally:
        await process.stop()

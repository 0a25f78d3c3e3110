"""The gateway as a process (``python -m portway run``): SIGHUP reload under load, a refused reload,
SIGTERM drain, and ``--workers 2``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from portway.testing import UpstreamRequest, UpstreamResponse, upstream_server

from .wire import RawClient, gateway_process, get, route_config, wait_for

pytestmark = pytest.mark.timeout(60)


@dataclass
class Load:
    """Clients looping on GET / until stopped; every failure is kept."""

    port: int
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def worker(self) -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=5) as client:
            while not self.stop.is_set():
                try:
                    response = await client.get("/load")
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                if response.status_code == 200:
                    self.ok += 1
                else:
                    self.failures.append(f"{response.status_code} {response.text}")


@contextlib.asynccontextmanager
async def load(port: int, workers: int = 4) -> AsyncIterator[Load]:
    running = Load(port)
    tasks = [asyncio.create_task(running.worker()) for _ in range(workers)]
    try:
        yield running
    finally:
        running.stop.set()
        await asyncio.gather(*tasks)


def write_config(path: Path, config: dict[str, object]) -> None:
    config = {"listen": "127.0.0.1:0", "access_log": {"enabled": False}} | config
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(config, indent=2))
    tmp.replace(path)  # atomic, as a deploy tool would do it


async def test_sighup_reload_under_load_moves_requests_and_fails_none(tmp_path: Path) -> None:
    async with (
        upstream_server() as first,
        upstream_server() as second,
        gateway_process(route_config(first.address), tmp_path) as gw,
        load(gw.port) as running,
    ):
        await wait_for(lambda: len(first.requests) >= 100, within=10)
        write_config(gw.config_path, route_config(second.address))
        mark = len(gw.lines)
        gw.signal(signal.SIGHUP)
        await gw.wait_for_line("config reloaded", start=mark)
        await wait_for(lambda: len(second.requests) >= 100, within=10)
        served_by_first = len(first.requests)
        await wait_for(lambda: len(second.requests) >= 200, within=10)
        assert len(first.requests) == served_by_first  # nothing goes to the old target any more

        # an invalid config is refused, named, and the running one keeps serving
        gw.config_path.write_text(
            "upstreams:\n  svc:\n    targets: [http://127.0.0.1:1]\n"
            "routes:\n  - path: /\n    upstream: nope\n"
        )
        mark = len(gw.lines)
        gw.signal(signal.SIGHUP)
        refused = await gw.wait_for_line("reload refused", start=mark)
        assert refused
        problem = await gw.wait_for_line("routes[0].upstream", start=mark)
        assert f"{gw.config_path}:6" in problem
        assert "unknown upstream 'nope'" in problem
        before = len(second.requests)
        await wait_for(lambda: len(second.requests) >= before + 100, within=10)
        assert len(first.requests) == served_by_first
        running.stop.set()
    assert running.failures == []
    assert running.ok >= 400


async def test_sigterm_drains_in_flight_refuses_new_and_exits_zero(tmp_path: Path) -> None:
    gate = asyncio.Event()

    async def slow(request: UpstreamRequest) -> UpstreamResponse:
        if request.target == "/slow":
            await gate.wait()
        return UpstreamResponse(body=b"done " + request.target.encode())

    async with upstream_server(slow) as up:
        config = route_config(up.address, shutdown_grace="5s")
        async with gateway_process(config, tmp_path) as gw:
            idle = await RawClient.connect(gw.port)
            assert (await idle.request(get("/warm"))).status == 200
            busy = await RawClient.connect(gw.port)
            await busy.send(get("/slow"))
            await wait_for(lambda: any(r.target == "/slow" for r in up.requests))

            gw.signal(signal.SIGTERM)
            started = time.monotonic()
            assert await idle.closed_by_peer()  # idle keep-alive connections are closed at once

            async def refused() -> bool:
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", gw.port)
                except ConnectionRefusedError:
                    return True
                writer.close()
                return False

            async with asyncio.timeout(5):
                while not await refused():  # noqa: ASYNC110 - the listener closes asynchronously
                    await asyncio.sleep(0.02)

            gate.set()
            response = await busy.read_response()
            assert (response.status, response.body) == (200, b"done /slow")
            assert response.closes
            assert await gw.wait(within=5) == 0
            assert time.monotonic() - started < 5
            await idle.close()
            await busy.close()


async def test_sigterm_aborts_what_outlives_the_grace(tmp_path: Path) -> None:
    never = asyncio.Event()

    async def hangs(request: UpstreamRequest) -> UpstreamResponse:
        await never.wait()
        return UpstreamResponse()

    async with upstream_server(hangs) as up:
        config = route_config(up.address, shutdown_grace="500ms")
        async with gateway_process(config, tmp_path) as gw:
            busy = await RawClient.connect(gw.port)
            await busy.send(get("/forever"))
            await wait_for(lambda: len(up.requests) == 1)
            started = time.monotonic()
            gw.signal(signal.SIGTERM)
            assert await gw.wait(within=5) == 0
            assert 0.4 <= time.monotonic() - started < 3
            assert await busy.closed_by_peer()
            await busy.close()
        never.set()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_two_workers_share_the_port_and_both_answer(tmp_path: Path) -> None:
    async with (
        upstream_server() as up,
        gateway_process(route_config(up.address), tmp_path, "--workers", "2") as gw,
    ):
        # both workers log that they listen, each with its own pid, on the same port
        await wait_for(lambda: sum("listening on" in line for line in gw.lines) == 2, within=15)
        pids = {line.split("[", 1)[1].split("]", 1)[0] for line in gw.lines if "listening on" in line}
        assert len(pids) == 2 and str(gw.pid) not in pids
        ports = {line.rsplit(":", 1)[1] for line in gw.lines if "listening on" in line}
        assert ports == {str(gw.port)}

        # new connections spread over both processes; each keeps its own upstream pool, so
        # the upstream sees exactly one connection per worker
        for i in range(40):
            client = await RawClient.connect(gw.port)
            assert (await client.request(get(f"/{i}"))).status == 200
            await client.close()
        assert len(up.requests) == 40
        assert up.connections == 2

        gw.signal(signal.SIGTERM)
        assert await gw.wait(within=10) == 0


async def test_invalid_config_at_startup_exits_1_naming_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("listen: 127.0.0.1:0\nlimits:\n  header_timeout: soon\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "portway",
        "run",
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(15):
        _, err = await proc.communicate()
    assert proc.returncode == 1
    assert f"{path}:3: limits.header_timeout:" in err.decode()

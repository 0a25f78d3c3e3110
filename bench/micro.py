"""CPU per proxied request with no socket: the real gateway, one request at a time, on fake transports.

The wrk rows (bench/run.sh) move by ±10% from run to run on this machine; this one is steady to a
few per cent, so every change to the request path gets a number before it gets a wrk run. It builds
the gateway from a bench config exactly as ``portway run`` does, parks one upstream connection (on a
fake transport) in the target's pool, then for each request feeds the client's bytes to an
``HttpConnection``, the upstream's answer to the ``UpstreamConnection`` the exchange wrote to, and
checks the client got the whole response. What it leaves out is the event loop and the syscalls:
the Python work per request, which is what the data plane's code decides.

    .venv/bin/python bench/micro.py [plain|chain] [--requests N] [--rounds N] [--profile]

It runs the build the package imports (``portway.build``: the compiled request path, or the sources
with ``PORTWAY_PURE=1``) and says which. For a figure that does not move with the machine's load,
``bench/instructions.sh`` counts the instructions per request under callgrind.

``--profile`` prints the functions by own time and the number of Python calls per request.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jwt

from portway import build as portway_build
from portway.config.loader import load_config
from portway.gateway import Gateway
from portway.server.protocol import HttpConnection
from portway.server.state import ServerState
from portway.server.tls import build_contexts
from portway.sweeper import Sweeper
from portway.telemetry.access_log import AccessLog
from portway.upstream.connection import State, UpstreamConnection

HERE = Path(__file__).parent
SECRET = "bench-only-hs256-secret-of-at-least-32-bytes"
RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\n\r\nHello, world!"


class Transport:
    """What a protocol needs of a socket: writes are kept until the driver takes them."""

    def __init__(self, peer: tuple[str, int]) -> None:
        self.peer = peer
        self.out: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.out.append(data)

    def writelines(self, data: list[bytes]) -> None:
        self.out.extend(data)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        raise AssertionError("the benchmark's connections stay open")

    abort = close

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None: ...

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.peer if name == "peername" else default


Bench = tuple[HttpConnection, Transport, bytes, UpstreamConnection, Transport]


def build(kind: str, loop: asyncio.AbstractEventLoop, log_dir: str) -> Bench:
    env = {**os.environ, "BENCH_UPSTREAM_PORT": "8081", "BENCH_ACCESS_LOG": f"{log_dir}/access.log"}
    path = HERE / ("portway.yaml" if kind == "plain" else "portway-chain.yaml")
    config = load_config(path, env)
    sweeper = Sweeper(loop)
    access_log = None
    if config.access_log.enabled:
        access_log = AccessLog(config.access_log.path, config.access_log.flush_interval)
    gateway = Gateway(config, sweeper, access_log, source=str(path), tls=build_contexts(config, str(path)))
    pool = gateway.upstreams["up"].pools[0]
    up = UpstreamConnection(pool, loop, pool.target.address, pool.limits)
    up_transport = Transport(("127.0.0.1", 8081))
    up.connection_made(up_transport)  # type: ignore[arg-type]
    up.state = State.IDLE  # as a connection that finished its first exchange
    pool.open += 1
    pool.idle.append(up)
    client = HttpConnection(ServerState(gateway, config.limits, sweeper))
    client_transport = Transport(("127.0.0.1", 40000))
    client.connection_made(client_transport)  # type: ignore[arg-type]
    headers = "Host: bench\r\nUser-Agent: wrk\r\nAccept: */*\r\n"
    if kind == "chain":
        token = jwt.encode({"sub": "bench", "exp": int(time.time()) + 86400}, SECRET, algorithm="HS256")
        headers += f"Authorization: Bearer {token}\r\n"
    request = f"GET /api/hello HTTP/1.1\r\n{headers}\r\n".encode()
    # the exchange finds the upstream side through the pool on each request: it is the one parked
    return client, client_transport, request, up, up_transport


def run(bench: Bench, count: int) -> None:
    client, transport, request, up, up_transport = bench
    feed_client = client.data_received
    feed_up = up.data_received
    for _ in range(count):
        feed_client(request)
        up_transport.out.clear()
        feed_up(RESPONSE)
        out = transport.out
        if not out or not out[-1].endswith(b"Hello, world!"):
            raise SystemExit(f"unexpected response: {b''.join(out)!r}")
        out.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kind", nargs="?", choices=("plain", "chain"), default="plain")
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as log_dir:
        bench = build(args.kind, loop, log_dir)
        run(bench, 2_000)  # warm: caches, the route table, the token cache
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            run(bench, args.requests)
            profiler.disable()
            stats = pstats.Stats(profiler, stream=sys.stdout)
            calls = sum(entry[1] for entry in stats.stats.values())  # type: ignore[attr-defined]
            print(f"{calls / args.requests:.1f} calls per request")
            stats.sort_stats("tottime").print_stats(25)
            if os.environ.get("BENCH_PROFILE_DUMP"):
                profiler.dump_stats(os.environ["BENCH_PROFILE_DUMP"])
            return
        best = float("inf")
        for _ in range(args.rounds):
            started = time.process_time()
            run(bench, args.requests)
            best = min(best, (time.process_time() - started) / args.requests)
        print(
            f"{args.kind}: {best * 1e6:.2f} µs CPU per request, best of {args.rounds} rounds"
            f" ({portway_build.describe()})"
        )


if __name__ == "__main__":
    main()

"""The fault table (docs/resilience.md): the same scenarios against portway, nginx (passive checks:
``max_fails``, ``proxy_next_upstream``) and HAProxy (active checks, ``retry-on``), in one run.

Each scenario starts three scripted replicas (tests/integration/resilience/replica.py) on
127.0.0.1, the proxy in front of them, and sends a bounded GET load (``REQUESTS`` from ``CLIENTS``
clients); the fault is applied after ``FAULT_AT`` requests. Reported per proxy and scenario: failed
requests (not 200), p99 latency, and upstream attempts per client request (requests the replicas
served / requests sent). Every process is started in its own session and killed by its pid.

Run with ``bash bench/faults.sh`` (checks that nginx and haproxy are installed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
REPLICA = ROOT / "tests" / "integration" / "resilience"
REQUESTS, CLIENTS, FAULT_AT = 600, 8, 100
# Shared knobs, the same for the three proxies: connect 250 ms, per-try timeout 500 ms, one retry,
# checks every 200 ms (two to fall, two to rise), passive ejection for 5 s.
FAST = ("--delay", "0.005")
SCENARIOS: dict[str, tuple[list[tuple[str, ...]], str | None]] = {
    "SIGKILL 1 of 3": ([(), (), ()], "kill"),
    "SIGSTOP 1 of 3": ([(), (), ()], "stop"),
    "flapping (0.5 s)": ([("--flap", "0.5", *FAST), FAST, FAST], None),
    "/health fails, serves": ([("--fail-health",), (), ()], None),
    "50% random 503s": ([("--random-503", "0.5"),] * 3, None),
}  # fmt: skip


@dataclass
class Proc:
    proc: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    async def collect(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.lines.append(line.decode(errors="replace").strip())

    @property
    def served(self) -> int:
        counts = [int(line.split()[1]) for line in self.lines if line.startswith("served ")]
        return counts[-1] if counts else 0

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signum)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGKILL)
        await self.proc.wait()
        if self.reader is not None:
            await self.reader


async def spawn(*cmd: str, cwd: Path | None = None) -> Proc:
    proc = await asyncio.create_subprocess_exec(
        *cmd, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    p = Proc(proc)
    p.reader = asyncio.create_task(p.collect())
    return p


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_port(port: int, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def portway_config(ports: list[int], listen: int) -> str:
    upstream = {
        "targets": [f"http://127.0.0.1:{p}" for p in ports],
        "health": {"path": "/health", "interval": "200ms", "timeout": "200ms", "healthy": 2, "unhealthy": 2},
        "outlier": {"consecutive_failures": 3, "base_ejection": "5s"},
        "timeouts": {"connect": "250ms", "read": "2s"},
        "retries": {
            "attempts": 2, "on": ["connect", "reset", "timeout", 502, 503, 504], "per_try_timeout": "500ms",
            "backoff": {"base": "1ms", "max": "5ms"},
        },
    }  # fmt: skip
    return json.dumps(
        {
            "listen": f"127.0.0.1:{listen}",
            "access_log": {"enabled": False},
            "upstreams": {"svc": upstream},
            "routes": [{"path": "/", "upstream": "svc"}],
        }
    )


def nginx_config(ports: list[int], listen: int, tmp: Path) -> str:
    servers = "".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n" for p in ports)
    return f"""daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log crit;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  upstream svc {{
{servers}    keepalive 32;
  }}
  server {{
    listen 127.0.0.1:{listen};
    location / {{
      proxy_pass http://svc;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_connect_timeout 250ms;
      proxy_read_timeout 500ms;
      proxy_next_upstream error timeout http_502 http_503 http_504;
      proxy_next_upstream_tries 2;
    }}
  }}
}}
"""


def haproxy_config(ports: list[int], listen: int) -> str:
    servers = "".join(
        f"  server r{i} 127.0.0.1:{p} check inter 200 fall 2 rise 2\n" for i, p in enumerate(ports)
    )
    return f"""global
  maxconn 4096
defaults
  mode http
  timeout connect 250ms
  timeout client 10s
  timeout server 500ms
  retries 1
  option redispatch 1
  retry-on conn-failure empty-response response-timeout 502 503 504
frontend fe
  bind 127.0.0.1:{listen}
  default_backend svc
backend svc
  balance roundrobin
  http-reuse safe
  option httpchk GET /health
{servers}"""


@contextlib.asynccontextmanager
async def proxy(name: str, ports: list[int], tmp: Path) -> AsyncIterator[int]:
    listen = free_port()
    if name == "portway":
        path = tmp / "portway.yaml"
        path.write_text(portway_config(ports, listen))
        cmd: tuple[str, ...] = (sys.executable, "-m", "portway", "run", str(path), "--log-level", "error")
    elif name == "nginx":
        path = tmp / "nginx.conf"
        path.write_text(nginx_config(ports, listen, tmp))
        cmd = ("nginx", "-c", str(path), "-p", str(tmp))
    else:
        path = tmp / "haproxy.cfg"
        path.write_text(haproxy_config(ports, listen))
        cmd = ("haproxy", "-db", "-f", str(path))
    process = await spawn(*cmd)
    try:
        await wait_port(listen)
        await asyncio.sleep(0.5)  # let the first health checks pass (portway, haproxy)
        yield listen
    finally:
        await process.stop()


@dataclass
class Row:
    failed: int
    p99_ms: float
    attempts: float


async def run(name: str, scenario: str, tmp: Path) -> Row:
    extra, fault = SCENARIOS[scenario]
    replicas = [
        await spawn(sys.executable, "-m", "replica", "--name", f"r{i}", "--report", *args, cwd=REPLICA)
        for i, args in enumerate(extra)
    ]
    try:
        ports = []
        for r in replicas:
            for _ in range(300):
                if r.lines:
                    break
                await asyncio.sleep(0.01)
            ports.append(int(r.lines[0].split()[1]))
        async with proxy(name, ports, tmp) as listen:
            before = sum(r.served for r in replicas)
            action: Callable[[], None] | None = None
            if fault == "kill":
                action = lambda: replicas[0].signal(signal.SIGKILL)  # noqa: E731
            elif fault == "stop":
                action = lambda: replicas[0].signal(signal.SIGSTOP)  # noqa: E731
            statuses, seconds = await load(listen, action)
            for r in replicas:
                r.signal(signal.SIGCONT)
            await asyncio.sleep(0.2)  # the replicas' last `served` reports
            attempts = sum(r.served for r in replicas) - before
    finally:
        for r in replicas:
            await r.stop()
    seconds.sort()
    return Row(
        sum(1 for s in statuses if s != 200),
        seconds[int(len(seconds) * 0.99) - 1] * 1000,
        attempts / REQUESTS,
    )


async def load(port: int, action: Callable[[], None] | None) -> tuple[list[int], list[float]]:
    statuses: list[int] = []
    seconds: list[float] = []
    issued = 0
    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10, limits=limits) as http:

        async def client() -> None:
            nonlocal issued
            while issued < REQUESTS:
                issued += 1
                started = time.perf_counter()
                try:
                    status = (await http.get(f"/bench/{issued}")).status_code
                except httpx.HTTPError:
                    status = 0
                seconds.append(time.perf_counter() - started)
                statuses.append(status)
                if action is not None and len(statuses) == FAULT_AT:
                    action()

        await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return statuses, seconds


async def main() -> None:
    proxies = [
        p for p in ("portway", "nginx", "haproxy") if p in (sys.argv[1:] or ("portway", "nginx", "haproxy"))
    ]
    print(
        f"{REQUESTS} GETs from {CLIENTS} clients per cell, fault after {FAULT_AT}; "
        "failed / p99 / attempts per request\n"
    )
    print("| scenario | " + " | ".join(proxies) + " |")
    print("|---|" + "---|" * len(proxies))
    for scenario in SCENARIOS:
        cells = []
        for name in proxies:
            with tempfile.TemporaryDirectory(prefix=f"faults-{name}-") as tmp:
                row = await run(name, scenario, Path(tmp))
            cells.append(f"{row.failed} / {row.p99_ms:.0f} ms / {row.attempts:.2f}")
        print(f"| {scenario} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    asyncio.run(main())

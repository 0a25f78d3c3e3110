"""Shop services as real processes, on unix sockets (like ``portway up``) or loopback TCP ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import httpx

from shop.testing.waiting import eventually


class ServiceProcess:
    """A shop service as its own process, on a unix socket in ``run_dir`` or, given ``port``, on TCP."""

    def __init__(self, name: str, run_dir: Path, env: Mapping[str, str], *, port: int | None = None) -> None:
        self.name = name
        self.socket = run_dir / f"{name}.sock"
        self.port = port
        self.log_path = run_dir / f"{name}.log"
        self.env = {**os.environ, **env}
        self.process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        pid = self.process.pid if self.process else None
        return f"ServiceProcess({self.name!r}, pid={pid})"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"shop.{self.name}", *self._listen_args()],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _listen_args(self) -> list[str]:
        return ["--port", str(self.port)] if self.port else ["--uds", str(self.socket)]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}" if self.port else f"http://{self.name}"

    def client(self, **kwargs: object) -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(uds=None if self.port else str(self.socket))
        return httpx.AsyncClient(transport=transport, base_url=self.base_url, **kwargs)  # type: ignore[arg-type]

    async def wait_ready(self, within: float = 30.0) -> None:
        async def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.logs()}")
            try:
                async with self.client(timeout=1.0) as client:
                    return (await client.get("/ready")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(ready, within=within, what=f"{self.name} to be ready")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, the way a crash or an OOM kill ends a process."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    async def wait_exit(self, within: float = 30.0) -> int:
        async def exit_code() -> list[int] | None:
            code = None if self.process is None else self.process.poll()
            return None if code is None else [code]

        return (await eventually(exit_code, within=within, what=f"{self.name} to exit"))[0]

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

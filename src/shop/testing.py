"""Test harness for the shop services, shipped with them (like ``portway.testing``).

- :func:`serve_asgi`: an app with its lifespan running, and an httpx client on it (no sockets).
- :class:`ServiceProcess`: ``python -m shop.<name>`` as a real process on a unix socket.
- :func:`postgres_database`: a throw-away PostgreSQL database owned by a throw-away role.
- :func:`nats_namespace`: a throw-away JetStream stream.
- :func:`eventually`: poll until a condition holds, with a deadline (events are asynchronous).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import httpx
from fastapi import FastAPI

from shop.common.settings import Settings

T = TypeVar("T")

POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
NATS_URL = "nats://127.0.0.1:4222"


def identity_headers(user_id: str, role: str = "customer") -> dict[str, str]:
    """The headers the gateway sets after verifying a user's token."""
    return {"X-User-Id": user_id, "X-User-Role": role}


def settings_for(service: str, data_dir: Path, *, database_url: str = "", events_url: str = "") -> Settings:
    return Settings(
        service=service,
        data_dir=data_dir,
        database_url=database_url or f"sqlite+aiosqlite:///{data_dir / service}.db",
        events_url=events_url or f"sqlite:///{data_dir / 'events.db'}",
    )


@asynccontextmanager
async def serve_asgi(app: FastAPI, name: str = "service") -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=f"http://{name}") as client,
    ):
        yield client


async def eventually(probe: Callable[[], Awaitable[T | None]], *, within: float = 15.0, what: str = "") -> T:
    """Return the first truthy result of ``probe``; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what or probe}")
        await asyncio.sleep(0.05)


class ServiceProcess:
    """A shop service as its own process, listening on a unix socket in ``run_dir``."""

    def __init__(self, name: str, run_dir: Path, env: Mapping[str, str]) -> None:
        self.name = name
        self.socket = run_dir / f"{name}.sock"
        self.log_path = run_dir / f"{name}.log"
        self.env = {**os.environ, **env}
        self.process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        pid = self.process.pid if self.process else None
        return f"ServiceProcess({self.name!r}, pid={pid})"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"shop.{self.name}", "--uds", str(self.socket)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def client(self, **kwargs: object) -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(uds=str(self.socket))
        return httpx.AsyncClient(transport=transport, base_url=f"http://{self.name}", **kwargs)  # type: ignore[arg-type]

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


@asynccontextmanager
async def postgres_database(service: str) -> AsyncIterator[str]:
    """A database and a login role of its own for ``service``; yields the SQLAlchemy URL, drops both after."""
    import asyncpg  # type: ignore[import-untyped]

    name = f"shop_{service}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE ROLE "{name}" LOGIN')
        await admin.execute(f'CREATE DATABASE "{name}" OWNER "{name}"')
        await admin.execute(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC')
        yield f"postgresql+asyncpg://{name}@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'DROP ROLE IF EXISTS "{name}"')
        await admin.close()


@asynccontextmanager
async def nats_namespace() -> AsyncIterator[str]:
    """An ``EVENTS_URL`` on a JetStream stream of its own, deleted afterwards."""
    import nats

    namespace = f"test{uuid.uuid4().hex[:10]}"
    try:
        yield f"{NATS_URL}?namespace={namespace}"
    finally:
        connection = await nats.connect(NATS_URL)
        try:
            await connection.jetstream().delete_stream(namespace.upper())
        except Exception:  # noqa: S110 - nothing was published, so there is no stream
            pass
        finally:
            await connection.close()

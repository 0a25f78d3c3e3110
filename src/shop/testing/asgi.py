"""A service app in-process: its lifespan running and an httpx client on it (no sockets)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI

from shop.common.settings import Settings


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

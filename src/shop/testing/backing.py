"""Throw-away PostgreSQL databases (each with its own role) and JetStream streams."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
NATS_URL = "nats://127.0.0.1:4222"


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
async def nats_namespace(query: str = "") -> AsyncIterator[str]:
    """An ``EVENTS_URL`` on JetStream streams of its own (events, dead letters), deleted afterwards.

    ``query`` is appended to the URL (``"max_attempts=3&backoff=0.05"``)."""
    import nats

    namespace = f"test{uuid.uuid4().hex[:10]}"
    try:
        yield f"{NATS_URL}?namespace={namespace}" + (f"&{query}" if query else "")
    finally:
        connection = await nats.connect(NATS_URL)
        try:
            for stream in (namespace.upper(), f"{namespace.upper()}_DEAD"):
                with contextlib.suppress(Exception):  # nothing connected, so there is no stream
                    await connection.jetstream().delete_stream(stream)
        finally:
            await connection.close()

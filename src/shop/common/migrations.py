"""Alembic, driven from code: each service's ``migrations/`` folder is upgraded to head at start.

There is no alembic.ini: the script location is the service package's folder and the connection is
handed over in ``config.attributes``. On PostgreSQL an advisory lock serialises replicas that start
together; on SQLite the ``BEGIN IMMEDIATE`` of :mod:`shop.common.db` does the same.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData, text

from shop.common.db import Database


def alembic_config(migrations_dir: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    return config


async def upgrade_to_head(db: Database, migrations_dir: Path) -> None:
    config = alembic_config(migrations_dir)
    async with db.engine.begin() as connection:
        if db.dialect == "postgresql":
            key = zlib.crc32(str(migrations_dir).encode()) & 0x7FFFFFFF
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        await connection.run_sync(_upgrade, config)


def _upgrade(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def run_env(target_metadata: Sequence[MetaData]) -> None:
    """The body of every service's ``migrations/env.py``."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("shop migrations run through shop.common.migrations.upgrade_to_head()")
    context.configure(
        connection=connection,
        target_metadata=list(target_metadata),
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite can't ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()

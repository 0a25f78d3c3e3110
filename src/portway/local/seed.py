"""Demo data: each service's ``seed`` command runs once, after the services are ready on the first
start of a data directory. A marker file records success, so a seed that failed runs again next time
and ``--reset`` (which wipes the data directory) seeds again."""

from __future__ import annotations

import asyncio
import subprocess
from dataclasses import dataclass

from portway.config.local import ServiceConfig
from portway.local.rundir import RunDir
from portway.local.supervisor import render_command, render_env

SEED_TIMEOUT = 120.0  # a first migration and argon2 hashes on a slow laptop


@dataclass(frozen=True, slots=True)
class SeedResult:
    service: str
    ok: bool
    output: str


async def seed_once(services: dict[str, ServiceConfig], rundir: RunDir) -> list[SeedResult]:
    results = []
    for name, service in services.items():
        marker = rundir.seeded(name)
        if service.seed is None or marker.exists():
            continue
        process = await asyncio.create_subprocess_exec(
            *render_command(service.seed, rundir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=render_env(service, rundir),
        )
        try:
            async with asyncio.timeout(SEED_TIMEOUT):
                output, _ = await process.communicate()
        except TimeoutError:
            process.kill()
            output, _ = await process.communicate()
        ok = process.returncode == 0
        if ok:
            marker.touch()
        results.append(SeedResult(name, ok, output.decode(errors="replace").strip()))
    return results

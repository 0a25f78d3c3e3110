"""Active health checks: ``GET <path>`` to one target every ``interval`` (± ``jitter``), over TCP
or a unix socket, on a fresh connection that is closed afterwards.

Rules:
- One task per target and one probe in flight per target: the next check starts only after the
  previous one ended (an answer, an error or ``timeout``), so a hanging target costs one socket.
- A check passes when the status line arrives within ``timeout`` and its status is expected
  (``expect``, 200-399 by default); anything else (refused, reset, timeout, garbage) fails.
- The result goes to the pool as ``CHECK_PASS``/``CHECK_FAIL`` (upstream/health.py decides what a
  run of them means); the prober itself keeps no state.
- A request that is not HTTP/1.1 framing-safe is never sent: the path was validated at load.
"""

from __future__ import annotations

import asyncio
import logging
import random

from portway.config.resilience import HealthCheck
from portway.upstream.health import Event
from portway.upstream.pool import TargetPool
from portway.upstream.target import Target

log = logging.getLogger("portway.health")


def check_request(target: Target, path: str) -> bytes:
    return (
        b"GET " + path.encode() + b" HTTP/1.1\r\nhost: " + target.host_header
        + b"\r\nuser-agent: portway-health\r\nconnection: close\r\n\r\n"
    )  # fmt: skip


def parse_status(line: bytes) -> int | None:
    """The status of an HTTP/1.x status line, or None when it is not one."""
    parts = line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or len(parts[1]) != 3 or not parts[1].isdigit():
        return None
    return int(parts[1])


async def check_once(target: Target, check: HealthCheck, statuses: frozenset[int]) -> bool:
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(check.timeout):
            if target.path is not None:
                reader, writer = await asyncio.open_unix_connection(target.path)
            else:
                # An https:// target is probed over the same verified TLS as its requests.
                reader, writer = await asyncio.open_connection(
                    target.host or "127.0.0.1",
                    target.port,
                    ssl=target.tls,
                    server_hostname=target.server_name if target.tls is not None else None,
                )
            writer.write(check_request(target, check.path))
            status = parse_status(await reader.readline())
    except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return False
    finally:
        if writer is not None:
            writer.close()
    return status is not None and status in statuses


async def probe_forever(pool: TargetPool, check: HealthCheck) -> None:
    statuses = check.statuses
    spread = check.interval * check.jitter
    # Start at a random point of the first interval so targets are not all checked at once.
    await asyncio.sleep(random.uniform(0, check.interval) if spread else 0)  # noqa: S311
    while not pool.retired:
        ok = await check_once(pool.target, check, statuses)
        was = pool.health.state
        pool.event(Event.CHECK_PASS if ok else Event.CHECK_FAIL)
        if pool.health.state is not was:
            log.warning("target %s: %s → %s", pool.target, was.value, pool.health.state.value)
        await asyncio.sleep(check.interval + random.uniform(-spread, spread))  # noqa: S311

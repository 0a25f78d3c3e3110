"""Discovery: a target given by hostname (``http://users:8000``, as Docker, Swarm and Kubernetes
headless services name replicas) stands for every address the name resolves to.

Rules:
- A target whose host is not an IP literal is a :class:`HostRecord`. Until its first answer it is
  used as written (each connect resolves the name, as before discovery); from then on it expands
  to one target per address (A and AAAA), in the resolver's order, each with its own pool, health
  and breaker. The Host header and a TLS target's server name stay the configured hostname.
- It is re-resolved every ``interval``, asynchronously (``loop.getaddrinfo``, bounded by
  ``RESOLVE_TIMEOUT``), never on the request path. A failure or an empty answer keeps the last good
  answer (logged, counted in ``failures_total``) and is retried sooner (``RETRY_AFTER_FAILURE``).
- An answer names addresses; the upstream keeps the pool (connections and state) of every address
  still named, adds pools for new ones and retires the others (upstream/upstream.py). A reload
  hands the records over, so the new gateway starts from the last answer, not from the name.
- The record is pure: the time is given, the resolver's answer (or its failure) is given.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

RESOLVE_TIMEOUT = 5.0
RETRY_AFTER_FAILURE = 5.0  # or the interval, when that is shorter

Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve(host: str, port: int) -> list[str]:
    """Every address of ``host`` (A and AAAA), the system resolver's order, without repeats."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(RESOLVE_TIMEOUT):
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_hostname(host: str | None) -> bool:
    if not host:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


def address_of(scheme: str, ip: str, port: int) -> str:
    """The target address of one resolved address (a v6 one in brackets)."""
    return f"{scheme}://[{ip}]:{port}" if ":" in ip else f"{scheme}://{ip}:{port}"


class HostRecord:
    """One hostname target of an upstream: its last good answer and when to ask again."""

    def __init__(self, address: str, host: str, port: int, interval: float) -> None:
        self.address = address  # as configured
        self.host = host
        self.port = port
        self.interval = interval
        self.answer: tuple[str, ...] | None = None  # the last good one
        self.next_at = 0.0  # due at once
        self.failures = 0  # in a row
        self.failures_total = 0

    def __repr__(self) -> str:
        return f"<HostRecord {self.host} answer={self.answer} failures={self.failures}>"

    def inherit(self, old: HostRecord) -> None:
        self.answer, self.next_at = old.answer, old.next_at
        self.failures, self.failures_total = old.failures, old.failures_total

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def answered(self, addresses: list[str], now: float) -> bool:
        """A resolver answer: whether the set of addresses changed (then the upstream re-expands)."""
        if not addresses:
            self.failed(now)
            return False
        self.failures = 0
        self.next_at = now + self.interval
        answer = tuple(addresses)
        changed = answer != self.answer
        self.answer = answer
        return changed

    def failed(self, now: float) -> None:
        self.failures += 1
        self.failures_total += 1
        self.next_at = now + min(self.interval, RETRY_AFTER_FAILURE)

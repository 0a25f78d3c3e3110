"""What a cache store keeps and answers (STYLE.md §6: the policy never knows which store it talks to).

A store maps a primary key (keys.py) to the variants stored under it. An in-process store answers
at once; a networked one returns an awaitable, and resolves to ``None`` when it could not answer
(an outage: the policy then neither serves nor stores, and the request goes upstream).
Writes never make a request wait: a networked store sends them in the background.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol

from portway.cache.entry import Entry


class Store(Protocol):
    def variants(self, key: str) -> list[Entry] | Awaitable[list[Entry] | None]:
        """The entries stored for ``key`` (each one variant), most recently stored first."""
        ...

    def put(self, key: str, entry: Entry, ttl: float) -> Awaitable[None] | None:
        """Store ``entry`` as the variant of ``key`` its secondary key names, replacing that one."""
        ...

    def delete(self, key: str) -> Awaitable[int] | int:
        """Drop every variant of ``key``; how many keys were dropped."""
        ...

    def purge(self, prefix: str) -> Awaitable[int] | int:
        """Drop every key starting with ``prefix``; how many."""
        ...

    def stats(self) -> dict[str, int]:
        """What the admin API shows: entries and bytes (memory), errors (Redis)."""
        ...

    async def aclose(self) -> None: ...

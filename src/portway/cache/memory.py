"""The in-process store: least recently used entries go first once the bytes held pass ``max_bytes``.

An entry's cost is its body, its headers and a fixed overhead (entry.py); an entry also leaves once
its time to keep (``ttl`` at ``put``) is over, checked when its key is read. The clock is injected.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from portway.cache.entry import Entry


class MemoryStore:
    def __init__(self, max_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes = max_bytes
        self.clock = clock
        self.bytes = 0
        # (key, secondary) → (entry, until): the order is recency of use, oldest first.
        self._entries: OrderedDict[tuple[str, bytes], tuple[Entry, float]] = OrderedDict()
        self._variants: dict[str, list[bytes]] = {}  # key → its secondaries, newest first
        self.evictions = 0

    def __repr__(self) -> str:
        return f"<MemoryStore {len(self._entries)} entries {self.bytes}/{self.max_bytes} bytes>"

    def variants(self, key: str) -> list[Entry]:
        secondaries = self._variants.get(key)
        if not secondaries:
            return []
        now = self.clock()
        if len(secondaries) == 1:  # the common case: one variant, no list copy
            slot = (key, secondaries[0])
            entry, until = self._entries[slot]
            if until <= now:
                self._drop(slot)
                return []
            self._entries.move_to_end(slot)
            return [entry]
        found = []
        for secondary in list(secondaries):
            slot = (key, secondary)
            entry, until = self._entries[slot]
            if until <= now:
                self._drop(slot)
                continue
            self._entries.move_to_end(slot)
            found.append(entry)
        return found

    def put(self, key: str, entry: Entry, ttl: float) -> None:
        if entry.size > self.max_bytes:
            return
        secondary = entry.secondary
        slot = (key, secondary)
        if slot in self._entries:
            self._drop(slot)
        self._entries[slot] = (entry, self.clock() + ttl)
        self._variants.setdefault(key, []).insert(0, secondary)
        self.bytes += entry.size
        while self.bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)
            self.evictions += 1

    def _drop(self, slot: tuple[str, bytes]) -> None:
        entry, _ = self._entries.pop(slot)
        self.bytes -= entry.size
        secondaries = self._variants[slot[0]]
        secondaries.remove(slot[1])
        if not secondaries:
            del self._variants[slot[0]]

    def delete(self, key: str) -> int:
        secondaries = self._variants.get(key)
        if not secondaries:
            return 0
        for secondary in list(secondaries):
            self._drop((key, secondary))
        return 1

    def purge(self, prefix: str) -> int:
        keys = [key for key in self._variants if key.startswith(prefix)]
        for key in keys:
            self.delete(key)
        return len(keys)

    def stats(self) -> dict[str, int]:
        return {
            "entries": len(self._entries),
            "keys": len(self._variants),
            "bytes": self.bytes,
            "max_bytes": self.max_bytes,
            "evictions": self.evictions,
        }

    async def aclose(self) -> None:
        self._entries.clear()
        self._variants.clear()
        self.bytes = 0

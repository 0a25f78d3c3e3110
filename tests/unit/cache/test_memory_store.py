"""The memory store: LRU by bytes, variants per key, expiry on an injected clock, purge."""

from __future__ import annotations

from portway.cache.entry import OVERHEAD, Entry
from portway.cache.memory import MemoryStore


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def entry(body: bytes, vary: tuple[tuple[bytes, bytes], ...] = ()) -> Entry:
    return Entry(200, [(b"cache-control", b"max-age=60")], body, 0.0, 0.0, vary)


def test_the_least_recently_used_go_first_and_the_bound_holds() -> None:
    one = entry(b"x" * 1000)
    store = MemoryStore(3 * one.size, Clock())
    for key in ("a", "b", "c"):
        store.put(key, entry(b"x" * 1000), 60)
    assert store.variants("a")  # a is now the most recently used
    store.put("d", entry(b"x" * 1000), 60)
    assert store.variants("b") == []  # b was the oldest unused
    assert [bool(store.variants(k)) for k in "acd"] == [True, True, True]
    assert store.bytes == 3 * one.size and store.stats()["evictions"] == 1


def test_an_entry_larger_than_the_store_is_not_kept() -> None:
    store = MemoryStore(OVERHEAD + 100, Clock())
    store.put("big", entry(b"x" * 1000), 60)
    assert store.variants("big") == [] and store.bytes == 0


def test_variants_share_a_key_and_one_replaces_its_own_secondary() -> None:
    store = MemoryStore(1 << 20, Clock())
    store.put("k", entry(b"en", ((b"accept-language", b"en"),)), 60)
    store.put("k", entry(b"fr", ((b"accept-language", b"fr"),)), 60)
    store.put("k", entry(b"en2", ((b"accept-language", b"en"),)), 60)
    assert sorted(e.body for e in store.variants("k")) == [b"en2", b"fr"]
    assert store.delete("k") == 1 and store.variants("k") == [] and store.bytes == 0


def test_entries_leave_when_their_time_is_up() -> None:
    clock = Clock()
    store = MemoryStore(1 << 20, clock)
    store.put("k", entry(b"body"), 10)
    clock.now = 9.9
    assert store.variants("k")
    clock.now = 10.0
    assert store.variants("k") == [] and store.bytes == 0


def test_purge_by_prefix() -> None:
    store = MemoryStore(1 << 20, Clock())
    for key in ("gw/a/1", "gw/a/2", "gw/ab", "gw/b/1"):
        store.put(key, entry(b"."), 60)
    assert store.purge("gw/a/") == 2
    assert [bool(store.variants(k)) for k in ("gw/a/1", "gw/a/2", "gw/ab", "gw/b/1")] == [
        False,
        False,
        True,
        True,
    ]

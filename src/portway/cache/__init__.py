"""The RFC 9111 shared response cache (docs/cache.md): the :class:`Cache` policy, its stores, and
what the admin API calls (:func:`purge`, :func:`stats`)."""

from __future__ import annotations

from typing import Protocol

from portway.cache.collapse import Inflight
from portway.cache.entry import Entry
from portway.cache.memory import MemoryStore
from portway.cache.policy import Cache
from portway.cache.store import Store
from portway.config.cache import CacheDefaults, CacheStore

__all__ = ["Cache", "CacheState", "Entry", "Inflight", "MemoryStore", "Store", "open_store", "purge", "stats"]


def open_store(config: CacheStore) -> Store:
    """The gateway's cache store; Redis is imported only when configured."""
    if config.backend == "memory":
        return MemoryStore(config.max_bytes)
    from portway.cache.redis_store import RedisStore

    return RedisStore(config)


class CacheState:
    """What every cached route of a gateway shares: the store and the collapsed misses in flight.
    Handed to the next gateway on reload while ``cache.store`` is unchanged."""

    def __init__(self, config: CacheDefaults) -> None:
        self.config = config
        self.store = open_store(config.store)
        self.inflight = Inflight()


class _HasCache(Protocol):
    @property
    def cache_state(self) -> CacheState | None: ...


class _Gateway(Protocol):
    @property
    def policy_state(self) -> _HasCache: ...


async def purge(gateway: _Gateway, *, key: str | None = None, prefix: str | None = None) -> int:
    """Drop one key (``host/path?query``, every variant of it) or every key under a prefix
    (``api.example.com/products/``); how many keys went. What ``POST /cache/purge`` calls."""
    if (key is None) == (prefix is None):
        raise ValueError("purge takes a key or a prefix")
    state = gateway.policy_state.cache_state
    if state is None:
        return 0
    done = state.store.delete(key) if key is not None else state.store.purge(prefix or "")
    return done if isinstance(done, int) else await done


def stats(gateway: _Gateway) -> dict[str, int]:
    """The store's figures for the admin API (entries and bytes in memory; errors for Redis)."""
    state = gateway.policy_state.cache_state
    if state is None:
        return {}
    return {**state.store.stats(), "collapsed": state.inflight.collapsed, "waiting": state.inflight.waiting}

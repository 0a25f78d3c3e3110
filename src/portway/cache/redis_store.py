"""The Redis store: one cache shared by every gateway replica (DESIGN.md §6).

Each primary key is a Redis hash (``prefix + key``) whose fields are its variants' secondary keys
and whose values are the serialised entries (entry.py); a lookup is one ``HGETALL``, a store one
``HSET`` + ``EXPIRE`` in a transaction. The hash lives as long as its most recently stored variant
wants (older variants may go with it: a miss, never a wrong answer).

When Redis is down or slower than ``timeout``, a lookup answers ``None`` (the policy forwards the
request and stores nothing) and a write is dropped: the cache degrades to no caching, never to a
client error. Failures count in ``portway_cache_store_errors_total`` and are logged at most once per
:data:`LOG_EVERY` seconds, so an outage is not a log line per request.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from portway.cache.entry import Entry
from portway.config.cache import CacheStore
from portway.policies.rate_limit.redis_store import _where

log = logging.getLogger("portway.cache")
STORE_ERRORS = Counter("portway_cache_store_errors_total", "Cache store calls that failed or timed out")
LOG_EVERY = 10.0
_GLOB = re.compile(r"([*?\[\]\\])")


class RedisStore:
    def __init__(self, config: CacheStore) -> None:
        self.where = _where(config.redis_url)
        self.prefix = config.prefix
        self.timeout = config.timeout
        self.errors = 0
        self._client = Redis.from_url(
            config.redis_url,
            socket_timeout=config.timeout,
            socket_connect_timeout=config.timeout,
            retry=Retry(NoBackoff(), 0),  # the timeout is the whole budget (as the rate-limit store)
        )
        self._logged_at = -LOG_EVERY
        self._unlogged = 0

    def __repr__(self) -> str:
        return f"<cache RedisStore {self.where} prefix={self.prefix!r}>"

    async def variants(self, key: str) -> list[Entry] | None:
        try:
            async with asyncio.timeout(self.timeout):
                found = await self._client.hgetall(self.prefix + key)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed("read", exc)
            return None
        entries = []
        for blob in found.values():
            try:
                entries.append(Entry.from_bytes(blob if isinstance(blob, bytes) else blob.encode()))
            except (ValueError, TypeError, KeyError):
                continue  # not ours (another writer under this prefix): a miss
        entries.sort(key=lambda e: e.response_time, reverse=True)
        return entries

    async def put(self, key: str, entry: Entry, ttl: float) -> None:
        name = self.prefix + key
        try:
            async with asyncio.timeout(self.timeout):
                async with self._client.pipeline(transaction=True) as pipe:
                    pipe.hset(name, entry.secondary, entry.to_bytes())
                    pipe.pexpire(name, max(1, int(ttl * 1000)))
                    await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed("write", exc)

    async def delete(self, key: str) -> int:
        try:
            async with asyncio.timeout(self.timeout):
                return int(await self._client.unlink(self.prefix + key))
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed("delete", exc)
            return 0

    async def purge(self, prefix: str) -> int:
        """SCAN, not KEYS: a large cache is purged without blocking Redis for the others."""
        pattern = _GLOB.sub(r"\\\1", self.prefix + prefix) + "*"
        dropped = 0
        try:
            batch: list[bytes] = []
            async for name in self._client.scan_iter(match=pattern, count=500):
                batch.append(name)
                if len(batch) >= 500:
                    dropped += int(await self._client.unlink(*batch))
                    batch = []
            if batch:
                dropped += int(await self._client.unlink(*batch))
        except (RedisError, OSError) as exc:
            self._failed("purge", exc)
        return dropped

    def stats(self) -> dict[str, int]:
        return {"errors": self.errors}

    def _failed(self, what: str, exc: Exception) -> None:
        STORE_ERRORS.inc()
        self.errors += 1
        now = time.monotonic()
        if now - self._logged_at < LOG_EVERY:
            self._unlogged += 1
            return
        log.warning(
            "cache store %s: %s failed (%s: %s); serving without the cache"
            " (%d more failures since the last message)",
            self.where,
            what,
            type(exc).__name__,
            exc,
            self._unlogged,
        )
        self._logged_at = now
        self._unlogged = 0

    async def aclose(self) -> None:
        await self._client.aclose()

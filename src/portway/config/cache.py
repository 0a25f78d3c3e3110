"""The response cache's config (docs/cache.md): a top-level ``cache:`` with the store and the
defaults, and a ``cache:`` per route that turns caching on for it (``cache: {}``: the defaults).

Bounds refuse what cannot work rather than clamping it: a store smaller than one object, an object
larger than the store, sizes no machine holds, waits longer than any client does.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from portway.config.models_base import Model
from portway.config.security import RateLimitStore
from portway.config.units import Duration, PositiveDuration, PositiveSize
from portway.headers import HOP_BY_HOP

_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_MAX_STORE = 1024**4  # 1 TiB: beyond it a memory cache is a typo, not a plan
_MAX_OBJECT = 1024**3  # 1 GiB: one body kept whole in memory (larger ones stream through uncached)


class CacheStore(Model):
    backend: Literal["memory", "redis"] = "memory"
    max_bytes: PositiveSize = 64 * 1024**2  # memory: the LRU bound (Redis: its own maxmemory)
    redis_url: str = "redis://127.0.0.1:6379/0"
    prefix: str = Field(default="portway:cache:", min_length=1)
    timeout: PositiveDuration = 0.25  # a slower Redis answer counts as an outage: the request goes on

    @field_validator("max_bytes")
    @classmethod
    def _max_bytes(cls, value: int) -> int:
        if value < 64 * 1024:
            raise ValueError("must be at least 64KB (an entry costs its headers and body)")
        if value > _MAX_STORE:
            raise ValueError("larger than 1TB: a memory cache this size is a typo (did you mean MB?)")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        # The rate-limit store's checks, word for word (they never repeat a password).
        try:
            RateLimitStore(backend="redis", redis_url=value)
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
        return value

    @model_validator(mode="after")
    def _redis_only(self) -> CacheStore:
        unused = self.changed({"redis_url", "prefix", "timeout"})
        if unused and self.backend != "redis":
            raise ValueError(f"{', '.join(sorted(unused))}: only used with `backend: redis`")
        if self.backend == "redis" and self.changed({"max_bytes"}):
            raise ValueError("max_bytes bounds the memory store; bound Redis with its maxmemory")
        return self


class CacheRule(Model):
    """What a route's cache does; every key left out takes the top-level ``cache:`` value."""

    max_object: PositiveSize = 8 * 1024**2  # larger bodies pass through, streamed, never kept
    key_headers: list[str] = []  # request headers that are part of the key, like a Vary we add
    collapse: bool = True  # concurrent misses for one key: one upstream request
    collapse_wait: PositiveDuration = 5.0  # how long the others wait for it before going themselves
    max_heuristic: PositiveDuration = 86400.0  # cap of a heuristic lifetime (10% of Last-Modified age)
    # With the upstream unreachable (no answer at all), a stored response up to this long past its
    # lifetime is served instead of the error (RFC 9111 §4.2.4 allows it when disconnected); 0: never.
    stale_if_unreachable: Duration = 60.0

    @field_validator("max_object")
    @classmethod
    def _max_object(cls, value: int) -> int:
        if value > _MAX_OBJECT:
            raise ValueError("larger than 1GB: bodies this size stream through, they are not kept")
        return value

    @field_validator("key_headers")
    @classmethod
    def _key_headers(cls, names: list[str]) -> list[str]:
        for name in names:
            if not _TOKEN.match(name):
                raise ValueError(f"{name!r} is not a header name")
            if name.lower().encode() in HOP_BY_HOP:
                raise ValueError(f"{name} is hop-by-hop: it never reaches the cache's key")
        return [n.lower() for n in names]

    @field_validator("collapse_wait")
    @classmethod
    def _wait(cls, value: float) -> float:
        if value > 60:
            raise ValueError("longer than 60s: clients give up first; use a shorter wait")
        return value

    @field_validator("stale_if_unreachable")
    @classmethod
    def _unreachable(cls, value: float) -> float:
        if value > 7 * 86400:
            raise ValueError("longer than 7d: a week-old answer is no answer; use stale-if-error")
        return value


class CacheDefaults(CacheRule):
    """The top-level ``cache:``: the store every cached route shares, and the routes' defaults."""

    store: CacheStore = CacheStore()

    @model_validator(mode="after")
    def _fits(self) -> CacheDefaults:
        if self.store.backend == "memory" and self.max_object > self.store.max_bytes:
            raise ValueError(
                f"max_object ({self.max_object} bytes) is larger than store.max_bytes"
                f" ({self.store.max_bytes}): no object would fit; lower max_object or raise max_bytes"
            )
        return self


def route_rule(defaults: CacheDefaults, route: CacheRule) -> CacheRule:
    """A route's rule: its own keys over the defaults."""
    given = {name: getattr(route, name) for name in route.model_fields_set}
    merged = {name: getattr(defaults, name) for name in CacheRule.model_fields} | given
    return CacheRule.model_validate(merged)

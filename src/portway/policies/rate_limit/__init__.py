"""Rate limiting (docs/policies/rate-limit.md): the :class:`RateLimit` policy and its stores."""

from __future__ import annotations

from portway.config.security import RateLimitStore
from portway.policies.rate_limit.memory import MemoryStore
from portway.policies.rate_limit.policy import RateLimit
from portway.policies.rate_limit.store import Limit, Store, Verdict

__all__ = ["Limit", "MemoryStore", "RateLimit", "Store", "Verdict", "open_store"]


def open_store(config: RateLimitStore) -> Store:
    """The gateway's store, from ``rate_limit_store``; share it between routes, ``aclose()`` it on
    shutdown. Redis is imported only when configured."""
    if config.backend == "memory":
        return MemoryStore()
    from portway.policies.rate_limit.redis_store import RedisStore

    return RedisStore(config)

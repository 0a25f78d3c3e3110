"""The Redis store: one count shared by every gateway replica (DESIGN.md §6).

All of a request's limits are checked and charged by one Lua script, so the check-then-charge is
atomic across replicas and costs one round trip. The script reads the clock with Redis ``TIME``:
replicas whose clocks disagree still agree on the buckets. The script is sent by SHA (redis-py's
``Script`` loads it once and again after a ``SCRIPT FLUSH`` or a failover).

When Redis is down or slower than ``timeout``, the request is let through (``on_error: open``) or
answered 503 (``closed``); either way the failure is counted in
``portway_ratelimit_store_errors_total`` and logged at most once per :data:`LOG_EVERY` seconds, so
an outage does not turn into a log line per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from portway.config.security import RateLimitStore
from portway.policies.rate_limit.store import Limit, Verdict

log = logging.getLogger("portway.ratelimit")
STORE_ERRORS = Counter(
    "portway_ratelimit_store_errors_total", "Rate-limit store calls that failed or timed out"
)
LOG_EVERY = 10.0

# KEYS: one bucket per limit. ARGV: four per limit: "g" (GCRA) or "w" (sliding window), the limit,
# the emission interval and the period, in µs. Returns the verdict of store.py. Same arithmetic as
# memory.py; nothing is written unless every limit admits the request.
ACQUIRE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local best, best_rem, best_reset, best_retry
local commits = {}
for i, key in ipairs(KEYS) do
  local base = (i - 1) * 4
  local limit, interval, per = tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3]), tonumber(ARGV[base + 4])
  local rem, reset, retry
  if ARGV[base + 1] == 'g' then
    local tau = interval * limit
    local tat = tonumber(redis.call('GET', key)) or now
    if tat < now then tat = now end
    local ahead = tat + interval - now
    if ahead > tau then
      rem, reset, retry = 0, tat - now, ahead - tau
    else
      rem, reset, retry = math.floor((tau - ahead) / interval), ahead, 0
      commits[i] = tat + interval
    end
  else
    local horizon = now - per
    redis.call('ZREMRANGEBYSCORE', key, '-inf', horizon)
    local count = redis.call('ZCARD', key)
    if count >= limit then
      local oldest = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
      local newest = tonumber(redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2])
      rem, reset, retry = 0, newest - horizon, oldest - horizon
    else
      rem, reset, retry = limit - count - 1, per, 0
      commits[i] = count
    end
  end
  local stricter
  if best == nil then
    stricter = true
  elseif retry > 0 or best_retry > 0 then
    stricter = retry > best_retry
  else
    stricter = rem < best_rem
  end
  if stricter then best, best_rem, best_reset, best_retry = i - 1, rem, reset, retry end
end
if best_retry == 0 then
  for i, key in ipairs(KEYS) do
    local base = (i - 1) * 4
    if ARGV[base + 1] == 'g' then
      redis.call('SET', key, string.format('%d', commits[i]), 'PX', math.ceil((commits[i] - now) / 1000))
    else
      -- the member only has to be unique: the count grows with every admission at the same `now`
      redis.call('ZADD', key, now, string.format('%d-%d', now, commits[i]))
      redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[base + 4]) / 1000))
    end
  end
end
return {best, best_rem, best_reset, best_retry}
"""


def _where(url: str) -> str:
    """The server, for logs: a Redis URL may carry a password."""
    parts = urlsplit(url)
    if parts.hostname is None:  # unix:///path/to/socket
        return f"{parts.scheme}://{parts.path}"
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"


class RedisStore:
    def __init__(self, config: RateLimitStore) -> None:
        self.fail_open = config.on_error == "open"
        self.where = _where(config.redis_url)
        self._prefix = config.prefix
        self._timeout = config.timeout
        # No retries inside redis-py: the per-call timeout is the whole budget, and a retry loop
        # against a dead server only delays the on_error decision.
        self._client = Redis.from_url(
            config.redis_url,
            socket_timeout=config.timeout,
            socket_connect_timeout=config.timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._script = self._client.register_script(ACQUIRE)
        self._logged_at = -LOG_EVERY
        self._unlogged = 0

    def __repr__(self) -> str:
        return f"<RedisStore {self.where} on_error={'open' if self.fail_open else 'closed'}>"

    async def acquire(self, limits: Sequence[Limit], keys: Sequence[str]) -> Verdict | None:
        args: list[str | int] = []
        for limit in limits:
            args += ("g" if limit.gcra else "w", limit.limit, limit.interval, limit.per)
        try:
            async with asyncio.timeout(self._timeout):
                result = await self._script(keys=[self._prefix + key for key in keys], args=args)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            return None
        index, remaining, reset, retry = result
        return int(index), int(remaining), int(reset), int(retry)

    def _failed(self, exc: Exception) -> None:
        STORE_ERRORS.inc()
        now = time.monotonic()
        if now - self._logged_at < LOG_EVERY:
            self._unlogged += 1
            return
        log.warning(
            "rate-limit store %s failed (%s: %s); %s (%d more failures since the last message)",
            self.where,
            type(exc).__name__,
            exc,
            "letting requests through" if self.fail_open else "answering 503",
            self._unlogged,
        )
        self._logged_at = now
        self._unlogged = 0

    async def aclose(self) -> None:
        await self._client.aclose()

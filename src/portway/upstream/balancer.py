"""Choosing a target for a request: round robin, least connections, consistent hash, peak EWMA.

Each balancer skips targets that are not ``available`` (upstream/health.py, breaker.py) and returns
``None`` when none is: the upstream then decides between panic mode and a fast 503 (upstream.py).
``available`` is one float comparison, so a healthy upstream pays nothing for health.
"""

from __future__ import annotations

import bisect
import hashlib
import random
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from portway.upstream.latency import PeakEwma
from portway.upstream.pool import TargetPool


class Balancer(Protocol):
    def pick(self, key: bytes | None) -> TargetPool | None: ...


class RoundRobin:
    def __init__(self, pools: Sequence[TargetPool]) -> None:
        self.pools = list(pools)
        self._next = 0

    def pick(self, key: bytes | None) -> TargetPool | None:
        pools = self.pools
        count = len(pools)
        for _ in range(count):
            pool = pools[self._next % count]
            self._next += 1
            if pool.available:
                return pool
        return None


class LeastConn:
    """Fewest requests in flight; ties go round robin so equal targets share the load.

    The scan starts just after the last target picked, so among tied targets each takes its turn
    (starting from a counter instead would favour the target after a busy one).
    """

    def __init__(self, pools: Sequence[TargetPool]) -> None:
        self.pools = list(pools)
        self._next = 0

    def pick(self, key: bytes | None) -> TargetPool | None:
        pools = self.pools
        count = len(pools)
        start = self._next
        best: TargetPool | None = None
        best_index = start % count
        for i in range(count):
            index = (start + i) % count
            pool = pools[index]
            if pool.available and (best is None or pool.busy < best.busy):
                best, best_index = pool, index
        self._next = best_index + 1
        return best


class ConsistentHash:
    """A hash ring with virtual nodes: adding or removing a target moves ~1/N of the keys."""

    VNODES = 160

    def __init__(self, pools: Sequence[TargetPool]) -> None:
        self.pools = list(pools)
        ring = sorted(
            (_hash(f"{pool.target.address}#{i}".encode()), index)
            for index, pool in enumerate(self.pools)
            for i in range(self.VNODES)
        )
        self._points = [point for point, _ in ring]
        self._owners = [index for _, index in ring]
        self._fallback = RoundRobin(pools)

    def pick(self, key: bytes | None) -> TargetPool | None:
        if key is None:
            return self._fallback.pick(None)
        start = bisect.bisect(self._points, _hash(key)) % len(self._points)
        # Walk the ring past targets that are down; the key's owner gets it back when it recovers.
        for step in range(len(self._points)):
            pool = self.pools[self._owners[(start + step) % len(self._points)]]
            if pool.available:
                return pool
        return None


class Ewma:
    """Power of two choices over peak-EWMA latency x in-flight requests (upstream/latency.py).

    Two distinct targets are drawn at random and the one that scores lower gets the request: as
    good as comparing all of them for spreading load (Mitzenmacher), O(1), and without the herd a
    global minimum draws onto one target. The balancer installs a :class:`PeakEwma` on each pool
    (``pool.latency``), which the pool feeds with the duration of each request it serves.
    """

    def __init__(
        self,
        pools: Sequence[TargetPool],
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.pools = list(pools)
        self.clock = clock
        self.rand = rand
        self.latency: list[PeakEwma] = []
        for pool in self.pools:
            if pool.latency is None:  # a rebuilt balancer (discovery) keeps what was measured
                pool.latency = PeakEwma()
            self.latency.append(pool.latency)

    def pick(self, key: bytes | None) -> TargetPool | None:
        pools = self.pools
        count = len(pools)
        if count == 1:
            return pools[0] if pools[0].available else None
        i = int(self.rand() * count) % count
        j = (i + 1 + int(self.rand() * (count - 1))) % count
        a, b = pools[i], pools[j]
        if a.available and b.available:
            now = self.clock()
            if self.latency[j].score(b.busy, now) < self.latency[i].score(a.busy, now):
                return b
            return a
        if a.available:
            return a
        if b.available:
            return b
        now = self.clock()
        best: TargetPool | None = None
        best_score = 0.0
        for pool, latency in zip(pools, self.latency, strict=True):
            if pool.available:
                score = latency.score(pool.busy, now)
                if best is None or score < best_score:
                    best, best_score = pool, score
        return best


def _hash(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


BALANCERS: dict[str, type[RoundRobin] | type[LeastConn] | type[ConsistentHash] | type[Ewma]] = {
    "round_robin": RoundRobin,
    "least_conn": LeastConn,
    "hash": ConsistentHash,
    "ewma": Ewma,
}

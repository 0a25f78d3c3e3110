"""The in-process store: exact for one worker, answered synchronously (no await on the hot path).

GCRA keeps one integer per key, the theoretical arrival time (TAT) of the next request: a request
is admitted when advancing the TAT by one emission interval keeps it within ``tau`` (= limit *
interval) of now. The sliding window keeps the admission times of the last ``per`` seconds in a
deque: exact "at most N in any window", at the cost of up to N timestamps per key.

Memory stays bounded: each period has its own table, ordered by last update (an update moves the
key to the end), so keys idle for longer than the period gather at the front, where a sweep drops
them a batch at a time; a table past ``max_keys`` drops its least recently updated key (a flood of
spoofed or IPv6-rotated addresses then evicts idle clients instead of exhausting memory).
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from typing import TypeVar

from portway.policies.rate_limit.store import MICROS, Limit, Verdict

SWEEP_EVERY = MICROS  # µs: about once a second
SWEEP_BATCH = 10_000  # keys dropped per sweep, so one sweep never stalls the loop
V = TypeVar("V")


def monotonic_us() -> int:
    return time.monotonic_ns() // 1000


class MemoryStore:
    """``clock`` returns microseconds (monotonic); tests inject a fake one."""

    fail_open = True  # never fails

    def __init__(self, clock: Callable[[], int] = monotonic_us, max_keys: int = 1_000_000) -> None:
        self._clock = clock
        self.max_keys = max_keys
        # One table per period (µs): within a period, update order is (about) expiry order.
        self._tats: defaultdict[int, dict[str, int]] = defaultdict(dict)
        self._windows: defaultdict[int, dict[str, deque[int]]] = defaultdict(dict)
        self._next_sweep = 0

    def __repr__(self) -> str:
        return f"<MemoryStore keys={len(self)}>"

    def __len__(self) -> int:
        return sum(map(len, self._tats.values())) + sum(map(len, self._windows.values()))

    def acquire(self, limits: Sequence[Limit], keys: Sequence[str]) -> Verdict:
        now = self._clock()
        if now >= self._next_sweep:
            self.sweep(now)
        if len(limits) == 1:  # the common case, charged in the same pass
            limit = limits[0]
            return (self._gcra if limit.gcra else self._window)(limit, keys[0], now, 0, True)
        # Look first, charge only if every limit admits; nothing runs in between (no await).
        best = self._check(limits, keys, now, False)
        if best[3] == 0:
            self._check(limits, keys, now, True)
        return best

    def _check(self, limits: Sequence[Limit], keys: Sequence[str], now: int, charge: bool) -> Verdict:
        best: Verdict | None = None
        for index, limit in enumerate(limits):
            check = self._gcra if limit.gcra else self._window
            verdict = check(limit, keys[index], now, index, charge)
            if best is None or _stricter(verdict, best):
                best = verdict
        assert best is not None, "a rate limit has at least one rule"
        return best

    def _gcra(self, limit: Limit, key: str, now: int, index: int, charge: bool) -> Verdict:
        tats = self._tats[limit.per]
        tat = tats.get(key, now)
        if tat < now:
            tat = now
        ahead = tat + limit.interval - now
        if ahead > limit.tau:
            return index, 0, tat - now, ahead - limit.tau
        if charge:
            tats.pop(key, None)  # re-inserted at the end: the table stays in update order
            tats[key] = now + ahead
            if len(tats) > self.max_keys:
                del tats[next(iter(tats))]
        return index, (limit.tau - ahead) // limit.interval, ahead, 0

    def _window(self, limit: Limit, key: str, now: int, index: int, charge: bool) -> Verdict:
        windows = self._windows[limit.per]
        times = windows.get(key)
        if times is None:
            times = deque()
        else:
            horizon = now - limit.per
            while times and times[0] <= horizon:
                times.popleft()
            if len(times) >= limit.limit:
                return index, 0, times[-1] - horizon, times[0] - horizon
        if charge:
            times.append(now)
            windows.pop(key, None)
            windows[key] = times
            if len(windows) > self.max_keys:
                del windows[next(iter(windows))]
            return index, limit.limit - len(times), limit.per, 0
        return index, limit.limit - len(times) - 1, limit.per, 0

    def sweep(self, now: int) -> None:
        """Drop keys whose state has run out (a full bucket, an empty window): they behave exactly
        like keys never seen. Runs from :meth:`acquire` about once a second."""
        budget = SWEEP_BATCH
        for tats in self._tats.values():
            budget -= _drop_front(tats, _tat_end, now, budget)
        for per, windows in self._windows.items():
            budget -= _drop_front(windows, _window_end, now - per, budget)
        # Out of budget: more may be expired; sweep again on the next request.
        self._next_sweep = now if budget <= 0 else now + SWEEP_EVERY

    async def aclose(self) -> None:
        """Nothing to release; here for the :class:`Store` protocol."""


def _stricter(a: Verdict, b: Verdict) -> bool:
    """Whether verdict ``a`` should be reported instead of ``b``: a refusal over an admission, the
    longer wait between refusals, the fewer remaining requests between admissions."""
    if a[3] or b[3]:
        return a[3] > b[3]
    return a[1] < b[1]


def _tat_end(tat: int) -> int:
    return tat


def _window_end(times: deque[int]) -> int:
    return times[-1] if times else 0


def _drop_front(table: dict[str, V], end: Callable[[V], int], cutoff: int, budget: int) -> int:
    """Drop entries whose state ends at or before ``cutoff`` from the front of an update-ordered
    table; stop at the first live one (entries behind it were updated later). Returns the count."""
    dropped: list[str] = []
    for key, value in table.items():
        if len(dropped) >= budget or end(value) > cutoff:
            break
        dropped.append(key)
    for key in dropped:
        del table[key]
    return len(dropped)

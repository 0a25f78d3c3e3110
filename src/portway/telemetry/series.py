"""The last minutes of the data plane, second by second, for the dashboard (docs/observability.md).

Rules:
- Nothing here runs on the hot path. A request only bumps its route's :class:`RouteStats` counters
  and, for a status >= 500, appends to that route's bounded ``errors`` deque
  (telemetry/metrics.py). :meth:`SeriesRecorder.sample` reads those once per ``interval`` from a
  background task; reading plain ints and a deque is safe on the loop without locks.
- A :class:`Frame` holds each route's *deltas* since the previous sample: requests, 4xx, 5xx and the
  histogram bucket counts, over ``elapsed`` seconds (the real time between two samples, so a late
  tick gives a lower count over a longer span, never a false spike). A route seen for the first time
  is counted from zero: routes are created with the gateway, before their first request.
- p50/p99 are estimated from the bucket deltas the way Prometheus' ``histogram_quantile`` does:
  linear inside the bucket holding the rank; a rank in the +Inf bucket reports the top finite bound.
- The ring keeps ``window / interval`` frames. Frames are numbered; a poller passes the last number
  it saw (``since``) and gets only newer frames, so each poll is small.
- Targets are kept as last sampled, with the time each one's (health, breaker) pair last changed
  (``None`` while it has not changed since the recorder first saw it).
- A reload is noticed at the next sample: the source's generation (its reload count) changed. The
  first sample records the generation the process started with.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from portway.telemetry.metrics import BOUNDS, RouteStats, UpstreamSample


class SeriesSource(Protocol):
    """What the recorder reads each tick; the admin side adapts the running gateway to it."""

    def route_stats(self) -> Mapping[str, RouteStats]: ...
    def upstream_samples(self) -> Sequence[UpstreamSample]: ...
    def generation(self) -> tuple[int, str]:
        """(reloads so far, version of the running config)."""
        ...


@dataclass(frozen=True, slots=True)
class RoutePoint:
    requests: int
    client_errors: int  # 4xx
    server_errors: int  # 5xx
    buckets: tuple[int, ...]  # per-bucket deltas, BOUNDS then +Inf

    def quantile(self, q: float) -> float | None:
        return bucket_quantile(q, self.buckets)


@dataclass(frozen=True, slots=True)
class Frame:
    seq: int
    time: float  # wall clock at the sample
    elapsed: float  # seconds since the previous sample
    routes: dict[str, RoutePoint]  # only routes that answered something in this span


@dataclass(frozen=True, slots=True)
class RouteSummary:
    rate: float  # requests per second
    error_ratio: float  # 5xx / requests (0 without requests)
    client_error_ratio: float
    p50: float | None
    p99: float | None


@dataclass(frozen=True, slots=True)
class RecentError:
    time: float
    request_id: str
    route: str
    status: int
    target: str  # "" when no target was reached (no healthy target, breaker open)
    trace_id: str


@dataclass(frozen=True, slots=True)
class Reload:
    time: float
    generation: int  # 0: the config the process started with
    version: str


def bucket_quantile(q: float, buckets: Sequence[int]) -> float | None:
    """The ``q`` quantile of non-cumulative bucket counts over :data:`BOUNDS` (+Inf last)."""
    total = sum(buckets)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(buckets):
        if count and seen + count >= rank:
            if index == len(BOUNDS):  # the +Inf bucket has no upper edge to interpolate to
                return BOUNDS[-1]
            lower = BOUNDS[index - 1] if index > 0 else 0.0
            return lower + (BOUNDS[index] - lower) * (rank - seen) / count
        seen += count
    return BOUNDS[-1]


class _Cumulative:
    """A route's counters at the previous sample."""

    __slots__ = ("buckets", "client_errors", "requests", "server_errors")

    def __init__(self) -> None:
        self.requests = self.client_errors = self.server_errors = 0
        self.buckets = [0] * (len(BOUNDS) + 1)


class SeriesRecorder:
    def __init__(
        self,
        source: SeriesSource,
        *,
        clock: Callable[[], float] = time.time,
        interval: float = 1.0,
        window: float = 600.0,
        errors_kept: int = 50,
    ) -> None:
        if interval <= 0 or window < interval:
            raise ValueError("the series needs interval > 0 and window >= interval")
        self.source = source
        self.clock = clock
        self.interval = interval
        self.window = window
        self.frames: deque[Frame] = deque(maxlen=int(window / interval))
        self.targets: list[UpstreamSample] = []  # as of the last sample
        self._target_states: dict[tuple[str, str], tuple[str, str | None]] = {}
        self._target_since: dict[tuple[str, str], float] = {}
        self.reloads: deque[Reload] = deque(maxlen=20)
        self.errors_kept = errors_kept
        self._previous: dict[str, _Cumulative] = {}
        self._seq = 0
        self._last_time: float | None = None
        self._generation: int | None = None

    # -- sampling (the background task) ----------------------------------------------------------
    async def run(self) -> None:
        """Sample every ``interval`` until cancelled (at shutdown, with every spawned task)."""
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def sample(self) -> Frame:
        now = self.clock()
        elapsed = self.interval if self._last_time is None else max(now - self._last_time, 1e-9)
        self._last_time = now
        routes: dict[str, RoutePoint] = {}
        for name, stats in self.source.route_stats().items():
            point = self._delta(name, stats)
            if point.requests:
                routes[name] = point
        self._seq += 1
        frame = Frame(self._seq, now, elapsed, routes)
        self.frames.append(frame)
        self.targets = list(self.source.upstream_samples())
        self._note_target_changes(now)
        generation, version = self.source.generation()
        if generation != self._generation:
            self._generation = generation
            self.reloads.append(Reload(now, generation, version))
        return frame

    def _note_target_changes(self, now: float) -> None:
        states = {(up.name, t.target): (t.state, t.breaker) for up in self.targets for t in up.targets}
        for key, state in states.items():
            if key in self._target_states and self._target_states[key] != state:
                self._target_since[key] = now
        self._target_states = states
        self._target_since = {k: v for k, v in self._target_since.items() if k in states}

    def target_since(self, upstream: str, target: str) -> float | None:
        """When the target's health or breaker state last changed (None: not seen to change)."""
        return self._target_since.get((upstream, target))

    def _delta(self, name: str, stats: RouteStats) -> RoutePoint:
        before = self._previous.get(name)
        if before is None:
            before = self._previous[name] = _Cumulative()
        requests = client = server = 0
        for status, count in stats.statuses.items():
            requests += count
            if status >= 500:
                server += count
            elif status >= 400:
                client += count
        buckets = list(stats.buckets)
        # max(…, 0): a counter never goes down while the process runs; if one did, say nothing.
        point = RoutePoint(
            max(requests - before.requests, 0),
            max(client - before.client_errors, 0),
            max(server - before.server_errors, 0),
            tuple(max(now - was, 0) for now, was in zip(buckets, before.buckets, strict=True)),
        )
        before.requests, before.client_errors, before.server_errors = requests, client, server
        before.buckets = buckets
        return point

    # -- reading (the dashboard's data endpoint) -------------------------------------------------
    @property
    def cursor(self) -> int:
        """The number of the newest frame (0 before the first sample)."""
        return self._seq

    def since(self, cursor: int) -> list[Frame]:
        """Frames newer than ``cursor``, oldest first (all that are kept when it is older)."""
        frames = self.frames
        if not frames or cursor >= frames[-1].seq:
            return []
        first = frames[0].seq
        return list(frames)[max(cursor - first + 1, 0) :]

    def summary(self, seconds: float = 10.0) -> dict[str, RouteSummary]:
        """Each route over the last ``seconds`` (the frames they span)."""
        span = 0.0
        totals: dict[str, list[int]] = {}
        buckets: dict[str, list[int]] = {}
        for frame in reversed(self.frames):
            if span >= seconds:
                break
            span += frame.elapsed
            for name, point in frame.routes.items():
                counts = totals.setdefault(name, [0, 0, 0])
                counts[0] += point.requests
                counts[1] += point.client_errors
                counts[2] += point.server_errors
                merged = buckets.setdefault(name, [0] * len(point.buckets))
                for index, count in enumerate(point.buckets):
                    merged[index] += count
        out = {}
        for name in self.source.route_stats():
            requests, client, server = totals.get(name, (0, 0, 0))
            merged = buckets.get(name, [])
            out[name] = RouteSummary(
                requests / span if span else 0.0,
                server / requests if requests else 0.0,
                client / requests if requests else 0.0,
                bucket_quantile(0.5, merged),
                bucket_quantile(0.99, merged),
            )
        return out

    def recent_errors(self) -> list[RecentError]:
        """The newest ``errors_kept`` 5xx answers over every route, newest first."""
        return recent_errors(self.source.route_stats(), self.errors_kept)


def recent_errors(routes: Mapping[str, RouteStats], limit: int) -> list[RecentError]:
    merged: Iterable[RecentError] = (
        RecentError(when, request_id, name, status, target, trace_id)
        for name, stats in routes.items()
        for when, request_id, status, target, trace_id in list(stats.errors)
    )
    return sorted(merged, key=lambda e: e.time, reverse=True)[:limit]

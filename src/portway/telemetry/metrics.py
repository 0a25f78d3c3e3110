"""Prometheus metrics of the data plane, at the cost of a few integer additions per request.

The hot path only bumps plain counters on the route's :class:`RouteStats` (prebuilt at load); the
Prometheus text is produced at scrape time by a collector that reads them. Stats live in one
:class:`RequestMetrics` per process, handed to each new gateway on reload, so counters never reset
while the process runs (as Prometheus expects of a counter).

Upstreams are read the same way: at scrape time each gives an :class:`UpstreamSample` of plain
numbers (its targets' states and the counters their state machines keep, which a reload carries
over for the targets that survive it), rendered as ``portway_upstream_*`` families labelled
``upstream`` and ``target``. An enum state is a state set: one series per state, 1 for the current.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import REGISTRY, Collector

BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ERRORS_KEPT = 50  # per route: a noisy route cannot push the others' errors out of the dashboard

# (time, request id, status, target, trace id) of one answer >= 500 (telemetry/series.py reads them)
ErrorEntry = tuple[float, str, int, str, str]


class RouteStats:
    __slots__ = ("buckets", "errors", "statuses", "sum")

    def __init__(self) -> None:
        self.statuses: dict[int, int] = {}
        self.buckets = [0] * (len(BOUNDS) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.errors: deque[ErrorEntry] = deque(maxlen=ERRORS_KEPT)

    def observe(self, status: int, seconds: float) -> None:
        statuses = self.statuses
        statuses[status] = statuses.get(status, 0) + 1
        self.buckets[bisect_left(BOUNDS, seconds)] += 1
        self.sum += seconds

    def failed(self, request_id: str, status: int, target: str, trace_id: str) -> None:
        """An answer >= 500, kept for the dashboard's recent errors (called for those only)."""
        self.errors.append((time.time(), request_id, status, target, trace_id))


@dataclass(frozen=True, slots=True)
class TargetSample:
    target: str
    state: str  # its health state (upstream/health.py)
    available: bool
    ejections: int  # ever
    open: int
    busy: int
    idle: int
    breaker: str | None = None  # its breaker's state, when it has one
    breaker_transitions: dict[tuple[str, str], int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UpstreamSample:
    name: str
    states: tuple[str, ...]  # every health state, for the state set
    breaker_states: tuple[str, ...]
    targets: list[TargetSample]
    in_flight: int
    retries: dict[str, int]  # by reason
    budget_exhausted: int
    resolve_failures: dict[str, int] = field(default_factory=dict)  # by hostname (discovery)


Family = CounterMetricFamily | GaugeMetricFamily


def upstream_families(samples: Iterable[UpstreamSample]) -> list[Family]:
    def counter(name: str, doc: str, *labels: str) -> CounterMetricFamily:
        return CounterMetricFamily(f"portway_upstream_{name}", doc, labels=["upstream", *labels])

    def gauge(name: str, doc: str, *labels: str) -> GaugeMetricFamily:
        return GaugeMetricFamily(f"portway_upstream_{name}", doc, labels=["upstream", *labels])

    state = gauge("target_state", "Health state of each target (1: the current one)", "target", "state")
    available = gauge("target_available", "Whether the target is in rotation now", "target")
    ejections = counter("ejections", "Outlier ejections of the target", "target")
    connections = gauge("connections", "Connections to the target, by state", "target", "state")
    breaker = gauge("breaker_state", "Circuit breaker state (1: the current one)", "target", "state")
    moves = counter("breaker_transitions", "Circuit breaker transitions", "target", "from", "to")
    in_flight = gauge("in_flight", "Requests in flight to the upstream (counted with max_concurrent)")
    retries = counter("retries", "Requests sent again, by reason", "reason")
    exhausted = counter("retry_budget_exhausted", "Retries refused because the retry budget was spent")
    resolve = counter("resolve_failures", "Failed re-resolutions of a target hostname", "host")
    for up in samples:
        name = up.name
        for t in up.targets:
            for value in up.states:
                state.add_metric([name, t.target, value], 1.0 if value == t.state else 0.0)
            available.add_metric([name, t.target], 1.0 if t.available else 0.0)
            ejections.add_metric([name, t.target], t.ejections)
            for kind, count in (("open", t.open), ("busy", t.busy), ("idle", t.idle)):
                connections.add_metric([name, t.target, kind], count)
            if t.breaker is not None:
                for value in up.breaker_states:
                    breaker.add_metric([name, t.target, value], 1.0 if value == t.breaker else 0.0)
            for (was, now), count in sorted(t.breaker_transitions.items()):
                moves.add_metric([name, t.target, was, now], count)
        in_flight.add_metric([name], up.in_flight)
        for reason, count in sorted(up.retries.items()):
            retries.add_metric([name, reason], count)
        exhausted.add_metric([name], up.budget_exhausted)
        for host, count in sorted(up.resolve_failures.items()):
            resolve.add_metric([name, host], count)
    return [state, available, ejections, connections, breaker, moves, in_flight, retries, exhausted, resolve]


class _Families(Collector):
    def __init__(self, families: list[Family]) -> None:
        self.families = families

    def collect(self) -> Iterator[Family]:
        yield from self.families


class RequestMetrics(Collector):
    def __init__(self) -> None:
        self.routes: dict[str, RouteStats] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def for_route(self, name: str) -> RouteStats:
        return self.routes.setdefault(name, RouteStats())

    def collect(self) -> Iterator[CounterMetricFamily | HistogramMetricFamily]:
        requests = CounterMetricFamily(
            "portway_requests", "Requests answered, by route and status", labels=["route", "status"]
        )
        durations = HistogramMetricFamily(
            "portway_request_duration_seconds", "Time from request head to response end", labels=["route"]
        )
        for route, stats in self.routes.items():
            for status, count in sorted(stats.statuses.items()):
                requests.add_metric([route, str(status)], count)
            cumulative, buckets = 0, []
            for bound, count in zip((*BOUNDS, float("inf")), stats.buckets, strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            durations.add_metric([route], buckets, stats.sum)
        yield requests
        yield durations

    def exposition(self, upstreams: Iterable[UpstreamSample] = ()) -> bytes:
        """Everything this process exports: the data plane's, its upstreams' (sampled now) and the
        default registry's (rate-limit store errors, process and Python metrics)."""
        scrape = CollectorRegistry(auto_describe=False)
        scrape.register(_Families(upstream_families(upstreams)))
        return generate_latest(self.registry) + generate_latest(scrape) + generate_latest(REGISTRY)

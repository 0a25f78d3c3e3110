"""Prometheus metrics of the data plane, at the cost of a few integer additions per request.

The hot path only bumps plain counters on the route's :class:`RouteStats` (prebuilt at load); the
Prometheus text is produced at scrape time by a collector that reads them. Stats live in one
:class:`RequestMetrics` per process, handed to each new gateway on reload, so counters never reset
while the process runs (as Prometheus expects of a counter).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import REGISTRY, Collector

BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RouteStats:
    __slots__ = ("buckets", "statuses", "sum")

    def __init__(self) -> None:
        self.statuses: dict[int, int] = {}
        self.buckets = [0] * (len(BOUNDS) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, status: int, seconds: float) -> None:
        statuses = self.statuses
        statuses[status] = statuses.get(status, 0) + 1
        self.buckets[bisect_left(BOUNDS, seconds)] += 1
        self.sum += seconds


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

    def exposition(self) -> bytes:
        """Everything this process exports: the data plane's and the default registry's
        (rate-limit store errors, process and Python metrics)."""
        return generate_latest(self.registry) + generate_latest(REGISTRY)

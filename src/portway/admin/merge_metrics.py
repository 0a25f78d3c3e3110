"""One Prometheus exposition from the expositions of N worker processes (``--workers N``).

Rules, per family type:
- counters, histograms and summaries add up across processes: samples with the same name and
  labels are summed (a histogram's buckets share their bounds, so bucket by bucket is right), and
  the result reads as if one process had served everything: ``rate()`` and ``histogram_quantile``
  work unchanged, and a dashboard need not know how many workers there are;
- gauges (and untyped, info, state sets) are states, not amounts: each worker's state of a target
  or a breaker is its own, and a sum of "1 = ejected" would be a count of workers, so each sample
  keeps its value and gets a ``worker`` label. Sum them in PromQL where a total makes sense
  (connections: ``sum without (worker) (...)``). A counter's ``_created`` series is one of these:
  the text format carries it as a gauge family, and each worker was started at its own time.

Why not prometheus_client's multiprocess mode: it replaces the registry with mmap'd files that every
metric writes through, which the data plane's counters (plain integers bumped on the hot path,
rendered only when scraped: telemetry/metrics.py) would have to become. Merging at scrape time
costs the hot path nothing and reuses each worker's ordinary exposition.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

_ADDITIVE = {"counter", "histogram", "summary"}

LabelKey = tuple[str, tuple[tuple[str, str], ...]]


class _Merged(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


def merge_expositions(expositions: list[tuple[int, str]]) -> bytes:
    """``expositions``: (worker index, its /metrics text), for the workers that answered."""
    families: dict[str, Metric] = {}
    sums: dict[str, dict[LabelKey, float]] = {}
    for worker, text in expositions:
        for family in text_string_to_metric_families(text):
            merged = families.get(family.name)
            if merged is None:
                merged = families[family.name] = Metric(
                    family.name, family.documentation, family.type, family.unit
                )
                sums[family.name] = {}
            if family.type not in _ADDITIVE:
                for sample in family.samples:
                    merged.add_sample(sample.name, {**sample.labels, "worker": str(worker)}, sample.value)
                continue
            totals = sums[family.name]
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                totals[key] = totals.get(key, 0.0) + sample.value
    for name, totals in sums.items():
        for (sample_name, labels), value in totals.items():
            families[name].add_sample(sample_name, dict(labels), value)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Merged(list(families.values())))
    return generate_latest(registry)

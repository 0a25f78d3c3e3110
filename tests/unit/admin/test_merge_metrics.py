"""Merging the workers' expositions: counters and histograms add up, gauges keep a worker label."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from portway.admin.merge_metrics import merge_expositions


def exposition(requests: int, le_01: int, count: int, connections: int, created: float) -> str:
    return f"""# HELP portway_requests_total Requests answered, by route and status
# TYPE portway_requests_total counter
portway_requests_total{{route="/a/",status="200"}} {requests}.0
# TYPE portway_requests_created gauge
portway_requests_created{{route="/a/",status="200"}} {created}
# HELP portway_request_duration_seconds Time from request head to response end
# TYPE portway_request_duration_seconds histogram
portway_request_duration_seconds_bucket{{le="0.1",route="/a/"}} {le_01}.0
portway_request_duration_seconds_bucket{{le="+Inf",route="/a/"}} {count}.0
portway_request_duration_seconds_count{{route="/a/"}} {count}.0
portway_request_duration_seconds_sum{{route="/a/"}} 0.5
# HELP portway_upstream_connections Connections to the target, by state
# TYPE portway_upstream_connections gauge
portway_upstream_connections{{state="idle",target="t",upstream="u"}} {connections}.0
"""


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def test_counters_and_histograms_sum_and_gauges_are_per_worker() -> None:
    merged = samples(
        merge_expositions([(0, exposition(3, 2, 3, 1, 200.0)), (1, exposition(4, 1, 5, 2, 100.0))])
    )
    route = (("route", "/a/"), ("status", "200"))
    assert merged[("portway_requests_total", route)] == 7.0
    # when each worker's counter began is that worker's own (a gauge family in the text format)
    assert merged[("portway_requests_created", (*route, ("worker", "0")))] == 200.0
    assert merged[("portway_requests_created", (*route, ("worker", "1")))] == 100.0
    assert merged[("portway_request_duration_seconds_bucket", (("le", "0.1"), ("route", "/a/")))] == 3.0
    assert merged[("portway_request_duration_seconds_count", (("route", "/a/"),))] == 8.0
    assert merged[("portway_request_duration_seconds_sum", (("route", "/a/"),))] == 1.0
    gauge = "portway_upstream_connections"
    labels = (("state", "idle"), ("target", "t"), ("upstream", "u"))
    assert merged[(gauge, (*labels, ("worker", "0")))] == 1.0
    assert merged[(gauge, (*labels, ("worker", "1")))] == 2.0
    assert (gauge, labels) not in merged


def test_a_family_only_one_worker_has_is_kept() -> None:
    one = '# TYPE portway_upstream_retries_total counter\nportway_upstream_retries_total{upstream="u"} 2.0\n'
    merged = samples(merge_expositions([(0, one), (1, "")]))
    assert merged == {("portway_upstream_retries_total", (("upstream", "u"),)): 2.0}


def test_no_worker_answered_is_an_empty_exposition() -> None:
    assert merge_expositions([]) == b""

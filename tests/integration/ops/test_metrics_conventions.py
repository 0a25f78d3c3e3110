"""/metrics of a real gateway parses with prometheus_client's parser and follows Prometheus' naming
conventions (https://prometheus.io/docs/practices/naming/): one prefix, snake case, counters end in
``_total``, units in the name and in base units (seconds, bytes), never ``_total`` on a gauge."""

from __future__ import annotations

import re

from ops_support import SUFFIXES, exported_names, families, scrape

OURS = "portway_"
OTHERS = ("process_", "python_")  # prometheus_client's default collectors
BAD_UNITS = re.compile(
    r"_(milliseconds|microseconds|ms|us|minutes|hours|kilobytes|megabytes|kb|mb|percent)(_|$)"
)
UNIT_WORDS = ("seconds", "bytes", "ratio")


async def test_metrics_parse_and_follow_the_naming_conventions() -> None:
    found = families(await scrape())
    by_name = {f.name: f for f in found}
    wrong = []
    for family in found:
        name = family.name
        if not name.startswith((OURS, *OTHERS)):
            wrong.append(f"{name}: neither portway_ nor a default collector")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            wrong.append(f"{name}: not snake case")
        if BAD_UNITS.search(name):
            wrong.append(f"{name}: not in base units (seconds, bytes)")
        if not family.documentation:
            wrong.append(f"{name}: no HELP")
        if family.type == "gauge" and name.endswith("_total"):
            wrong.append(f"{name}: a gauge named like a counter")
        if family.type == "histogram" and not name.endswith(UNIT_WORDS):
            wrong.append(f"{name}: a histogram without its unit")
        for sample in family.samples:
            if family.type in SUFFIXES and not sample.name.endswith(SUFFIXES[family.type]):
                wrong.append(f"{sample.name}: a {family.type} sample without its suffix")
    assert wrong == []

    # Every family the alerts and dashboards lean on is there, with samples after the faults.
    for name in (
        "portway_requests",
        "portway_request_duration_seconds",
        "portway_upstream_target_state",
        "portway_upstream_target_available",
        "portway_upstream_breaker_state",
        "portway_upstream_breaker_transitions",
        "portway_upstream_ejections",
        "portway_upstream_retries",
        "portway_ratelimit_store_errors",
    ):
        assert by_name[name].samples, f"{name} has no samples"
    assert by_name["portway_requests"].type == "counter"
    assert by_name["portway_request_duration_seconds"].type == "histogram"
    names = exported_names(found)
    assert {"portway_requests_total", "portway_request_duration_seconds_bucket"} <= names
    assert "portway_ratelimit_store_errors_total" in names

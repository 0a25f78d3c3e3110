"""The `tracing:` section: bad values are check errors with their line; the endpoint rules."""

from __future__ import annotations

import pytest

from portway.config import ConfigError, parse_config


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "gw.yaml", env={})
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ("{endpoint: 'ftp://collector:4318'}", "expected http(s)://host:port"),
        ("{endpoint: 'collector:4318'}", "expected http(s)://host:port"),
        ("{endpoint: 'http://collector:99999'}", "invalid port"),
        ("{endpoint: 'http://collector:4318/v1/traces?x=1'}", "no query"),
        ("{endpoint: 'http://c:4318', sample_ratio: 1.5}", "sample_ratio"),
        ("{endpoint: 'http://c:4318', sample_ratio: -0.1}", "sample_ratio"),
        ("{endpoint: 'http://c:4318', trust_incoming: sometimes}", "trust_incoming"),
        ("{endpoint: 'http://c:4318', headers: {'bad name': x}}", "not a valid header name"),
        ("{endpoint: 'http://c:4318', queue_size: 0}", "queue_size"),
        ("{endpoint: 'http://c:4318', timeout: 0s}", "timeout"),
        ("{endpoint: 'http://c:4318', sampler: always}", "sampler"),
    ],
)
def test_bad_tracing_values_are_located_errors(section: str, fragment: str) -> None:
    (found,) = problems(f"listen: 127.0.0.1:8080\ntracing: {section}\n")
    assert found.startswith("gw.yaml:2:"), found
    assert fragment in found, found


def test_a_base_endpoint_gets_the_traces_path_and_a_full_one_is_kept() -> None:
    def url(endpoint: str) -> str:
        return parse_config(f"tracing: {{endpoint: '{endpoint}'}}\n", "gw.yaml", env={}).tracing.traces_url

    assert url("http://c:4318") == "http://c:4318/v1/traces"
    assert url("http://c:4318/") == "http://c:4318/v1/traces"
    assert url("https://c/otlp/v1/traces") == "https://c/otlp/v1/traces"


def test_an_empty_endpoint_is_tracing_off_so_the_environment_decides() -> None:
    text = "tracing: {endpoint: '${OTEL_EXPORTER_OTLP_ENDPOINT:-}'}\n"
    assert not parse_config(text, "gw.yaml", env={}).tracing.enabled
    on = parse_config(text, "gw.yaml", env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert on.tracing.enabled and on.tracing.traces_url == "http://127.0.0.1:4318/v1/traces"

"""After a fault, the admin /metrics shows it in Prometheus' conventions, and a reload keeps the
counters going: scraped over a real socket, read with prometheus_client's own text parser."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from resilience_support import config, status

from portway.config import GatewayConfig
from portway.testing import run_gateway, upstream_server


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return scraped[(name, frozenset(labels.items()))]


async def test_metrics_show_ejections_breaker_moves_retries_and_budget_exhaustion_across_a_reload() -> None:
    upstream = {
        "outlier": {"consecutive_failures": 2, "base_ejection": "30s"},
        "breaker": {"failures": 2, "cooldown": "30s"},
        "retries": {
            "attempts": 2,
            "on": [503],
            "budget": {"ratio": 0, "min_per_second": 0.1, "window": "10s"},
        },
    }
    async with upstream_server(status(503)) as sick, upstream_server() as good:
        base = config([sick.address, good.address], **upstream) | {"admin": "127.0.0.1:0"}
        async with run_gateway(base) as gw, httpx.AsyncClient(timeout=10) as http:
            assert gw.admin is not None
            metrics_url = f"http://127.0.0.1:{gw.admin.sockets[0].getsockname()[1]}/metrics"
            proxy = f"http://127.0.0.1:{gw.port}"
            statuses = [(await http.get(f"{proxy}/{i}")).status_code for i in range(6)]
            before = samples((await http.get(metrics_url)).text)
            reloaded = base | {"listen": gw.config.listen, "access_log": {"enabled": False}}
            assert gw.reload(GatewayConfig.model_validate(reloaded))
            after = samples((await http.get(metrics_url)).text)
            status_doc = (await http.get(metrics_url.replace("/metrics", "/status"))).json()
    # req 0: sick 503, retried on good (the budget's one retry); req 1: sick 503 again, no budget
    # left: the client gets it; the breaker opens and the outlier ejects; the rest go to good.
    assert statuses == [200, 503, 200, 200, 200, 200]
    assert len(sick.requests) == 2
    s, g = sick.address, good.address
    for scraped in (before, after):
        assert value(scraped, "portway_upstream_ejections_total", upstream="svc", target=s) == 1
        assert value(scraped, "portway_upstream_ejections_total", upstream="svc", target=g) == 0
        moves = {"upstream": "svc", "target": s, "from": "closed", "to": "open"}
        assert value(scraped, "portway_upstream_breaker_transitions_total", **moves) == 1
        assert value(scraped, "portway_upstream_retries_total", upstream="svc", reason="503") == 1
        assert value(scraped, "portway_upstream_retry_budget_exhausted_total", upstream="svc") == 1
        assert value(scraped, "portway_upstream_target_state", upstream="svc", target=s, state="ejected") == 1
        assert value(scraped, "portway_upstream_target_state", upstream="svc", target=s, state="healthy") == 0
        assert value(scraped, "portway_upstream_target_available", upstream="svc", target=s) == 0
        assert value(scraped, "portway_upstream_target_available", upstream="svc", target=g) == 1
        assert value(scraped, "portway_upstream_breaker_state", upstream="svc", target=s, state="open") == 1
        assert value(scraped, "portway_upstream_breaker_state", upstream="svc", target=g, state="closed") == 1
    assert value(before, "portway_upstream_connections", upstream="svc", target=g, state="idle") >= 1
    assert status_doc["upstream_state"]["svc"]["retries"] == {"503": 1}
    assert status_doc["upstream_state"]["svc"]["retry_budget"]["exhausted"] == 1

"""The admin API over a real socket: routes, upstream state, methods, problems, cache headers,
the purge seam, and an OpenAPI document that validates and describes what is served."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
from openapi_spec_validator import validate

from portway.admin.app import ENDPOINTS
from portway.admin.purge import Purge
from portway.testing import upstream_server

from .support import admin_gateway, answering, one_upstream

pytestmark = pytest.mark.timeout(30)


async def test_routes_show_the_match_the_upstream_and_the_policies_in_chain_order(tmp_path: Path) -> None:
    routes = [
        {
            "path": "/api/",
            "upstream": "svc",
            "methods": ["GET", "POST"],
            "rewrite": "/",
            # written in another order than the chain's: the answer follows the chain
            "rate_limit": {"limit": 10, "per": "1s"},
            "cors": {"origins": ["https://app.example"]},
            "ip": {"allow": ["127.0.0.0/8"]},
        },
        {"path": "/", "upstream": "svc", "host": "static.example"},
    ]
    async with (
        upstream_server() as up,
        admin_gateway(one_upstream(up.address) | {"routes": routes}, tmp_path) as gw,
    ):
        response = await gw.http.get("/routes")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "routes": [
            {
                "name": "/api/",
                "match": {"path": "/api/", "host": None, "methods": ["GET", "POST"]},
                "rewrite": "/",
                "upstream": "svc",
                "policies": ["ip", "cors", "rate_limit"],
            },
            {
                "name": "/",
                "match": {"path": "/", "host": "static.example", "methods": None},
                "rewrite": None,
                "upstream": "svc",
                "policies": [],
            },
        ]
    }


async def test_upstreams_show_health_breaker_ejections_pool_and_retry_budget(tmp_path: Path) -> None:
    resilience = {
        "outlier": {"consecutive_failures": 2, "base_ejection": "30s"},
        "breaker": {"failures": 50},
        "retries": {
            "attempts": 2,
            "on": [503],
            "budget": {"ratio": 0.5, "min_per_second": 1, "window": "10s"},
        },
    }
    async with upstream_server(answering(503)) as sick, upstream_server() as good:
        config = {"upstreams": {"svc": {"targets": [sick.address, good.address]} | resilience}}
        async with admin_gateway(config | {"routes": [{"path": "/", "upstream": "svc"}]}, tmp_path) as gw:
            statuses = [(await gw.proxy.get(f"/{i}")).status_code for i in range(6)]
            doc = (await gw.http.get("/upstreams")).json()
    assert statuses == [200] * 6  # the 503s were retried on the good target, then sick was ejected
    svc = doc["upstreams"]["svc"]
    sick_doc, good_doc = svc["targets"]
    assert sick_doc["address"] == sick.address and good_doc["address"] == good.address
    assert sick_doc["health"]["state"] == "ejected" and sick_doc["health"]["ejections"] == 1
    assert sick_doc["health"]["back_in"] > 0 and sick_doc["up"] is False
    assert good_doc["health"] == {"state": "healthy", "ejections": 0} and good_doc["up"] is True
    assert sick_doc["breaker"] == {"state": "closed", "opened": 0}
    # nothing in flight now: the good target's connection went back to the pool
    assert good_doc["pool"] == {"open": 1, "idle": 1, "busy": 0, "waiting": 0} and good_doc["in_flight"] == 0
    assert svc["in_flight"] == 0 and svc["retries"] == {"503": 2}
    assert svc["retry_budget"]["retries"] == 2 and svc["retry_budget"]["exhausted"] == 0


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("POST", "/status", "GET, HEAD"), ("DELETE", "/config", "GET, HEAD"), ("GET", "/reload", "POST"),
     ("PUT", "/cache/purge", "POST")],
)  # fmt: skip
async def test_a_method_an_endpoint_does_not_take_is_405_with_allow(
    tmp_path: Path, method: str, path: str, allow: str
) -> None:
    async with upstream_server() as up, admin_gateway(one_upstream(up.address), tmp_path) as gw:
        response = await gw.http.request(method, path)
        reloads = gw.running.reloads
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["status"] == 405 and response.json()["request_id"]
    assert reloads == 0


async def test_unknown_paths_are_404_problems_and_head_has_no_body(tmp_path: Path) -> None:
    async with upstream_server() as up, admin_gateway(one_upstream(up.address), tmp_path) as gw:
        missing = await gw.http.get("/nope")
        head = await gw.http.head("/status")
        health = await gw.http.get("/health")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 0
    assert health.json() == {"status": "ok"} and health.headers["cache-control"] == "no-store"


async def test_purge_without_a_cache_is_404_no_cache_configured(tmp_path: Path) -> None:
    async with upstream_server() as up, admin_gateway(one_upstream(up.address), tmp_path) as gw:
        response = await gw.http.post("/cache/purge", json={"key": "GET /a"})
    assert response.status_code == 404
    assert response.json()["detail"] == "no cache configured"


async def test_purge_calls_the_purger_with_the_validated_selector(tmp_path: Path) -> None:
    calls: list[Purge] = []

    async def purger(purge: Purge) -> int:
        calls.append(purge)
        return 3 if purge.prefix else 1

    async with (
        upstream_server() as up,
        admin_gateway(one_upstream(up.address), tmp_path, purger=purger) as gw,
    ):
        by_key = await gw.http.post("/cache/purge", json={"key": "GET /a"})
        by_prefix = await gw.http.post("/cache/purge", json={"prefix": "GET /api/"})
        both = await gw.http.post("/cache/purge", json={"key": "a", "prefix": "b"})
        garbage = await gw.http.post("/cache/purge", content=b"{not json")
        huge = await gw.http.post("/cache/purge", content=b"x" * (70 * 1024))
    assert (by_key.status_code, by_key.json()) == (200, {"key": "GET /a", "purged": 1})
    assert (by_prefix.status_code, by_prefix.json()) == (200, {"prefix": "GET /api/", "purged": 3})
    assert (both.status_code, garbage.status_code, huge.status_code) == (422, 400, 413)
    assert both.headers["content-type"] == "application/problem+json"
    assert calls == [Purge(key="GET /a"), Purge(prefix="GET /api/")]  # the refused ones never reached it


async def test_the_openapi_document_validates_and_describes_every_answer(tmp_path: Path) -> None:
    async with upstream_server() as up, admin_gateway(one_upstream(up.address), tmp_path) as gw:
        await gw.proxy.get("/warm")  # a pool with a connection in it
        document = (await gw.http.get("/openapi.json")).json()
        answers = {path: (await gw.http.get(path)).json() for path in ("/health", "/status", "/routes",
                                                                        "/upstreams", "/config")}  # fmt: skip
    validate(document)  # OpenAPI 3.1, by openapi-spec-validator
    served = {path.decode(): {m.lower() for m in methods} for path, methods in ENDPOINTS.items()}
    assert {path: set(ops) for path, ops in document["paths"].items()} == served
    for path, body in answers.items():
        schema = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        # the document's own schemas, resolved against the document (JSON Schema 2020-12)
        jsonschema.validate(body, {**schema, "components": document["components"]})

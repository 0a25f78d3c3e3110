"""The dashboard's page and data endpoint on the admin listener, over real loopback sockets: what a
gateway with a failing target records, second by second, and what bad input gets."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any

import httpx

from portway.config import GatewayConfig
from portway.runtime import RunningServer
from portway.testing import UpstreamRequest, UpstreamResponse, run_gateway, upstream_server


async def fails(request: UpstreamRequest) -> UpstreamResponse:
    return UpstreamResponse(500, body=b"broken")


def gateway_config(targets: list[str]) -> dict[str, Any]:
    return {
        "admin": "127.0.0.1:0",
        "upstreams": {"svc": {"targets": targets, "breaker": {"failures": 50}}},
        "routes": [{"path": "/api/", "upstream": "svc"}, {"path": "/other/", "upstream": "svc"}],
    }


def admin_url(gw: RunningServer) -> str:
    assert gw.admin is not None
    return f"http://127.0.0.1:{gw.admin.sockets[0].getsockname()[1]}"


def requests_on(doc: dict[str, Any], route: str) -> int:
    return sum(f["routes"][route]["requests"] for f in doc["frames"] if route in f["routes"])


async def poll(http: httpx.AsyncClient, url: str, until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The data document once ``until`` holds (the recorder samples once a second; 10 s at most)."""
    deadline = time.monotonic() + 10
    while True:
        doc: dict[str, Any] = (await http.get(url)).json()
        if until(doc):
            return doc
        assert time.monotonic() < deadline, f"the dashboard never showed it: {doc}"
        await asyncio.sleep(0.1)


async def test_traffic_shows_as_frames_summary_targets_and_errors_with_request_ids() -> None:
    async with (
        upstream_server(fails) as sick,
        upstream_server() as good,
        run_gateway(gateway_config([sick.address, good.address])) as gw,
        httpx.AsyncClient(timeout=10) as http,
    ):
        base = f"http://127.0.0.1:{gw.port}"
        statuses = {}
        for i in range(10):  # round robin: every other request reaches the failing target
            response = await http.get(f"{base}/api/{i}", headers={"x-request-id": f"req-{i:04d}"})
            statuses[f"req-{i:04d}"] = response.status_code
        data = f"{admin_url(gw)}/dashboard/data"
        doc = await poll(http, f"{data}?since=0", lambda d: requests_on(d, "/api/") == 10)
        later = (await http.get(f"{data}?since={doc['cursor']}")).json()

    failed = sorted(rid for rid, code in statuses.items() if code == 500)
    assert len(failed) == 5
    api = [f["routes"]["/api/"] for f in doc["frames"] if "/api/" in f["routes"]]
    assert sum(p["5xx"] for p in api) == 5 and sum(p["4xx"] for p in api) == 0
    assert all(p["p99"] is not None and p["p99"] > 0 for p in api)
    assert doc["summary"]["/api/"]["error_ratio"] == 0.5
    assert doc["summary"]["/other/"] == {
        "rate": 0.0, "error_ratio": 0.0, "client_error_ratio": 0.0, "p50": None, "p99": None,
    }  # fmt: skip
    assert sorted(e["request_id"] for e in doc["errors"]) == failed
    assert {(e["route"], e["status"], e["target"]) for e in doc["errors"]} == {("/api/", 500, sick.address)}
    [upstream] = doc["upstreams"]
    targets = {t["target"]: t for t in upstream["targets"]}
    assert targets[good.address]["health"] == "healthy" and targets[good.address]["breaker"] == "closed"
    assert set(targets) == {sick.address, good.address}
    assert [r["generation"] for r in doc["reloads"]] == [0]
    assert all(f["seq"] > doc["cursor"] for f in later["frames"])  # only frames after the cursor


async def test_a_reload_is_listed_with_the_new_config_version() -> None:
    async with upstream_server() as up:
        config = gateway_config([up.address])
        async with run_gateway(config) as gw, httpx.AsyncClient(timeout=10) as http:
            url = f"{admin_url(gw)}/dashboard/data"
            first = await poll(http, url, lambda d: len(d["reloads"]) == 1)
            config["routes"] = [{"path": "/", "upstream": "svc"}]
            reloaded = config | {"listen": gw.config.listen, "access_log": {"enabled": False}}
            assert gw.reload(GatewayConfig.model_validate(reloaded))
            doc = await poll(http, url, lambda d: len(d["reloads"]) == 2)

    newest, started = doc["reloads"]
    assert (newest["generation"], started["generation"]) == (1, 0)
    assert started["version"] == first["reloads"][0]["version"]
    assert re.fullmatch(r"[0-9a-f]{16}", newest["version"]) and newest["version"] != started["version"]
    assert set(doc["summary"]) == {"/"}  # the routes of the running config only


async def test_the_page_and_its_files_come_from_the_package_with_nothing_from_elsewhere() -> None:
    async with (
        upstream_server() as up,
        run_gateway(gateway_config([up.address])) as gw,
        httpx.AsyncClient(timeout=10) as http,
    ):
        base = admin_url(gw)
        page = await http.get(f"{base}/")
        script = await http.get(f"{base}/dashboard/app.js")
        style = await http.get(f"{base}/dashboard/style.css")
        head = await http.head(f"{base}/")

    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert style.headers["content-type"] == "text/css; charset=utf-8"
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert 'src="dashboard/app.js"' in page.text and 'href="dashboard/style.css"' in page.text
    for response in (page, script, style):
        assert response.headers["cache-control"] == "no-store"
        assert not re.search(r"https?://|//cdn|<script>", response.text)  # offline: nothing fetched elsewhere
    assert head.status_code == 200 and head.content == b""


async def test_bad_requests_get_problem_json() -> None:
    async with (
        upstream_server() as up,
        run_gateway(gateway_config([up.address])) as gw,
        httpx.AsyncClient(timeout=10) as http,
    ):
        base = admin_url(gw)
        word = await http.get(f"{base}/dashboard/data?since=soon")
        negative = await http.get(f"{base}/dashboard/data?since=-1")
        post = await http.post(f"{base}/", content=b"x")
        unknown = await http.get(f"{base}/dashboard/nothing.js")

    assert word.status_code == 400 and word.headers["content-type"] == "application/problem+json"
    assert word.json()["detail"] == "since must be a frame number, not 'soon'"
    assert negative.status_code == 400
    assert post.status_code == 405 and post.headers["allow"] == "GET, HEAD"
    assert unknown.status_code == 404

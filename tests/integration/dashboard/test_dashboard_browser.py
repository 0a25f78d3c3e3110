"""The dashboard in a real browser: headless Chromium (Debian's, installed by .ci/install-browser)
driven by Playwright, loading the page of a real `portway run` process while traffic flows and one
of its two targets fails until outlier detection ejects it.

The screenshot goes to the test's tmp_path; with PORTWAY_UPDATE_SCREENSHOTS=1 it also replaces
docs/img/dashboard.png, the one docs/observability.md shows. Without Chromium or
Playwright the test skips, and fails instead when PORTWAY_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import re
import shutil
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from portway.testing import UpstreamRequest, UpstreamResponse, gateway_process, upstream_server

CHROMIUM = "/usr/bin/chromium"
SCREEN = {"width": 1366, "height": 768}  # a laptop screen: everything below must be readable there
DOCS_IMAGE = Path(__file__).resolve().parents[3] / "docs" / "img" / "dashboard.png"
NON_ZERO_NUMBER = re.compile(r"^(?!0\.00$)\d+(\.\d+)?$")  # as the page prints a rate
UPDATE_DOCS = os.environ.get("PORTWAY_UPDATE_SCREENSHOTS") == "1"
TRAFFIC_LIMIT = 3000 if UPDATE_DOCS else 600  # requests: bounded even if an assertion waits its longest


def require_browser() -> None:
    missing = [
        what
        for what, ok in (
            (CHROMIUM, os.access(CHROMIUM, os.X_OK)),
            ("playwright (pip)", importlib.util.find_spec("playwright") is not None),
        )
        if not ok
    ]
    if not missing:
        return
    message = f"{', '.join(missing)} not installed (run .ci/install-browser)"
    if os.environ.get("PORTWAY_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} and PORTWAY_REQUIRE_SERVICES=1")
    pytest.skip(message)


async def fails(request: UpstreamRequest) -> UpstreamResponse:
    return UpstreamResponse(500, body=b"broken")


async def slowish(request: UpstreamRequest) -> UpstreamResponse:
    await asyncio.sleep(0.003)  # a few ms of "work", so the latency columns have something to show
    return UpstreamResponse(200, [("content-type", "text/plain")], b"ok")


@contextlib.asynccontextmanager
async def traffic(base: str, failed: list[str]) -> AsyncIterator[None]:
    """Requests on two routes in the background, each with a request id of ours; the ids of the
    5xx answers are collected in ``failed``."""

    async def drive() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            for i in range(TRAFFIC_LIMIT):
                path = "/api/orders/" if i % 3 else "/api/products/"
                rid = f"dash-{i:05d}"
                response = await http.get(f"{path}{i}", headers={"x-request-id": rid})
                if response.status_code >= 500:
                    failed.append(rid)
                await asyncio.sleep(0.02)

    task = asyncio.get_running_loop().create_task(drive())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


async def test_the_dashboard_shows_rates_an_ejected_target_and_recent_errors(tmp_path: Path) -> None:
    require_browser()
    from playwright.async_api import async_playwright, expect

    async with upstream_server(fails) as sick, upstream_server(slowish) as good:
        config: dict[str, Any] = {
            "admin": "127.0.0.1:0",
            "upstreams": {
                "orders": {
                    "targets": [sick.address, good.address],
                    "outlier": {"consecutive_failures": 3, "base_ejection": "5m"},
                    "breaker": {"failures": 50},
                },
                "catalog": {"targets": [good.address]},
            },
            "routes": [
                {"path": "/api/orders/", "upstream": "orders"},
                {"path": "/api/products/", "upstream": "catalog"},
            ],
        }
        failed: list[str] = []
        async with gateway_process(config, tmp_path) as gw:
            line = await gw.wait_for_line("admin API")  # "admin API [and dashboard] on http://HOST:PORT"
            found = re.search(r"http://127\.0\.0\.1:\d+", line)
            assert found is not None, line
            admin = found.group(0) + "/"
            async with traffic(f"http://127.0.0.1:{gw.port}", failed), async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
                )
                try:
                    page = await browser.new_page(viewport=SCREEN)
                    elsewhere: list[str] = []
                    page_errors: list[str] = []
                    page.on("request", lambda r: None if r.url.startswith(admin) else elsewhere.append(r.url))
                    page.on("pageerror", lambda e: page_errors.append(str(e)))
                    page.on("console", lambda m: page_errors.append(m.text) if m.type == "error" else None)
                    await page.goto(admin)

                    orders = page.locator('[data-testid="route"][data-route="/api/orders/"]')
                    rate = orders.locator('[data-testid="route-rate"]')
                    await expect(rate).to_have_text(NON_ZERO_NUMBER, timeout=10_000)
                    shown_rate = float(await rate.inner_text())

                    ejected = page.locator(f'[data-testid="target"][data-target="{sick.address}"]')
                    await expect(ejected).to_have_attribute("data-health", "ejected", timeout=10_000)
                    await expect(ejected).to_have_attribute("data-available", "false")
                    await expect(ejected.locator('[data-testid="target-health"]')).to_have_text("ejected")
                    healthy = page.locator(
                        f'[data-testid="target"][data-upstream="orders"][data-target="{good.address}"]'
                    )
                    await expect(healthy).to_have_attribute("data-health", "healthy")

                    assert len(failed) == 3  # the failures that ejected it; none after
                    newest = page.locator(f'[data-testid="error"][data-request-id="{failed[-1]}"]')
                    await expect(newest).to_be_visible(timeout=10_000)
                    await expect(newest.locator('[data-testid="error-request-id"]')).to_have_text(failed[-1])
                    await expect(page.locator('[data-testid="error"]')).to_have_count(3)
                    await expect(orders.locator('[data-testid="route-errors"]')).not_to_have_text("0%")
                    await expect(page.locator('[data-testid="reload"]')).to_have_count(1)
                    await expect(page.locator('[data-testid="reload"]')).to_contain_text("started")
                    await expect(page.locator('[data-testid="live"]')).to_have_class("live ok")

                    if UPDATE_DOCS:  # a fuller picture for the docs: half a minute in the charts
                        thirty = re.compile(r"^([3-9]\d|\d{3,})$")  # (the page's CSP forbids eval)
                        await expect(page.locator("#window")).to_have_attribute(
                            "data-frames", thirty, timeout=60_000
                        )
                    shot = tmp_path / "dashboard.png"
                    await page.screenshot(path=str(shot))
                finally:
                    await browser.close()

    assert shown_rate > 0
    assert elsewhere == []  # works offline: the page asked nothing of any other origin
    assert page_errors == []
    assert png_size(shot) == (SCREEN["width"], SCREEN["height"])
    if UPDATE_DOCS:
        DOCS_IMAGE.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS_IMAGE)

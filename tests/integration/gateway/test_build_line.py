"""``portway run`` says at start which build it runs (the compiled request path or the sources),
and serves either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from portway import build
from portway.testing import gateway_process, upstream_server

from .wire import get, raw_exchange, route_config

pytestmark = pytest.mark.timeout(60)


async def test_the_start_log_names_the_build_this_process_would_import(tmp_path: Path) -> None:
    async with upstream_server() as up, gateway_process(route_config(up.address), tmp_path) as gw:
        line = await gw.wait_for_line("build")
        assert line.endswith(f"portway[{gw.pid}]: {build.describe()}")  # same sources, same decision
        assert b" 200 " in (await raw_exchange(gw.port, get("/x")))[:16]


async def test_portway_pure_runs_the_sources_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTWAY_PURE", "1")
    async with upstream_server() as up, gateway_process(route_config(up.address), tmp_path) as gw:
        line = await gw.wait_for_line("build")
        assert line.endswith("pure-Python build: PORTWAY_PURE is set")
        assert b" 200 " in (await raw_exchange(gw.port, get("/x")))[:16]

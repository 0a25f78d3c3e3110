"""Health state survives a reload for targets that stay, and shows in the admin snapshot."""

from __future__ import annotations

import httpx
from resilience_support import config, status

from portway.config import GatewayConfig
from portway.testing import run_gateway, upstream_server


async def test_a_reload_keeps_an_ejection_and_the_admin_snapshot_shows_it() -> None:
    outlier = {"consecutive_failures": 2, "base_ejection": "30s"}
    async with upstream_server(status(503)) as sick, upstream_server() as good:
        base = config([sick.address, good.address], outlier=outlier, breaker={"failures": 50})
        async with (
            run_gateway(base) as gw,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}", timeout=10) as http,
        ):
            for i in range(6):
                await http.get(f"/{i}")
            assert len(sick.requests) == 2
            reloaded = base | {"listen": gw.config.listen, "access_log": {"enabled": False}}
            reloaded["routes"] = [{"path": "/", "upstream": "svc"}, {"path": "/new", "upstream": "svc"}]
            assert gw.reload(GatewayConfig.model_validate(reloaded))
            statuses = [(await http.get(f"/{i}")).status_code for i in range(6)]
            targets = gw.snapshot()["upstreams"]["svc"]  # type: ignore[index]
    assert statuses == [200] * 6 and len(sick.requests) == 2  # still ejected after the reload
    assert targets[0]["health"]["state"] == "ejected" and targets[0]["health"]["ejections"] == 1
    assert targets[0]["breaker"] == {"state": "closed", "opened": 0}
    assert targets[1]["health"] == {"state": "healthy", "ejections": 0}

"""What reached the upstream decides a retry (DESIGN.md §1, errors that say what happened):
- a target that blackholes connects (nothing sent) costs no failed request while another is up;
- a POST whose bytes reached a target that then reset the connection gets 502 and is never
  replayed elsewhere; an idempotent GET in the same situation is replayed."""

from __future__ import annotations

import httpx

from portway.testing import blackholed_address, resetting_upstream, run_gateway, upstream_server

from .wire import route_config


async def test_a_blackholed_target_fails_over_to_the_other() -> None:
    with blackholed_address() as dead:
        async with (
            upstream_server() as live,
            run_gateway(route_config([dead, live.address], options={"timeouts": {"connect": "300ms"}})) as gw,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}", timeout=10) as client,
        ):
            statuses = [(await client.get(f"/item/{i}")).status_code for i in range(8)]
    assert statuses == [200] * 8
    assert [r.target for r in live.requests] == [f"/item/{i}" for i in range(8)]


async def test_all_targets_blackholed_is_a_504_problem() -> None:
    with blackholed_address() as first, blackholed_address() as second:
        async with (
            run_gateway(route_config([first, second], options={"timeouts": {"connect": "200ms"}})) as gw,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}", timeout=10) as client,
        ):
            response = await client.get("/")
    assert response.status_code == 504
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "the upstream service did not answer in time"


async def test_a_post_that_reached_a_target_is_not_replayed() -> None:
    async with (
        resetting_upstream() as (resetting, seen),
        upstream_server() as other,
        run_gateway(route_config([resetting, other.address])) as gw,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}", timeout=10) as client,
    ):
        response = await client.post("/orders", content=b'{"item": 1}')
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    assert len(seen) == 1 and seen[0].startswith(b"POST /orders ")
    assert other.requests == []  # the other target never saw it: it may have been acted on


async def test_a_get_that_reached_a_resetting_target_is_replayed_on_the_other() -> None:
    async with (
        resetting_upstream() as (resetting, seen),
        upstream_server() as other,
        run_gateway(route_config([resetting, other.address])) as gw,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}", timeout=10) as client,
    ):
        response = await client.get("/orders/1")
    assert response.status_code == 200
    assert len(seen) == 1 and seen[0].startswith(b"GET /orders/1 ")
    assert [r.target for r in other.requests] == ["/orders/1"]

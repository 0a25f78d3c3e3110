"""``trusted_proxies`` over real sockets: what the upstream is told in ``X-Forwarded-For``, and that a
client cannot rotate XFF values to look like someone else (the same rule, ``Gateway.client_ip``,
is what per-IP policies key on; tests/unit/security/test_client_ip.py covers it case by case)."""

from __future__ import annotations

from .support import call, serve

ROUTE = {"path": "/api/", "auth": "none"}


async def test_an_untrusted_peer_cannot_rotate_xff() -> None:
    async with serve(ROUTE, auth={}) as (up, port):
        for i in range(5):
            assert (await call(port, "/api/x", f"X-Forwarded-For: 203.0.113.{i}")).status == 200
        assert (
            await call(port, "/api/x", "x_forwarded_for: 198.51.100.1", "Forwarded: for=1.2.3.4")
        ).status == 200
    for request in up.requests:
        assert request.header_all("x-forwarded-for") == ["127.0.0.1"]
        assert [k for k, _ in request.headers if k.lower() in ("x_forwarded_for", "forwarded")] == []


async def test_a_trusted_peer_has_its_chain_extended() -> None:
    async with serve(ROUTE, auth={}, trusted_proxies=["127.0.0.1/32"]) as (up, port):
        assert (await call(port, "/api/x", "X-Forwarded-For: 6.6.6.6, 203.0.113.9")).status == 200
        assert (
            await call(port, "/api/x", "X-Forwarded-For: 6.6.6.6", "X-Forwarded-For: 203.0.113.9")
        ).status == 200
        assert (await call(port, "/api/x")).status == 200
    assert [r.header_all("x-forwarded-for") for r in up.requests] == [
        ["6.6.6.6, 203.0.113.9, 127.0.0.1"],
        ["6.6.6.6, 203.0.113.9, 127.0.0.1"],
        ["127.0.0.1"],
    ]


async def test_trusting_another_network_does_not_trust_the_peer() -> None:
    async with serve(ROUTE, auth={}, trusted_proxies=["10.0.0.0/8"]) as (up, port):
        assert (await call(port, "/api/x", "X-Forwarded-For: 10.0.0.1")).status == 200
    assert up.requests[0].header_all("x-forwarded-for") == ["127.0.0.1"]

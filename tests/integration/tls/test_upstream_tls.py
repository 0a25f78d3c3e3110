"""https:// upstreams: verified by default, mTLS, keep-alive over TLS, and a verification failure
is a 502 problem+json that says so (the log has the specifics)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from pathlib import Path

import pytest
import trustme

from portway.testing import UpstreamServer, run_gateway, upstream_server

from .support import write_cert

PLAIN = "/"


def https_upstream(ctx: ssl.SSLContext) -> contextlib.AbstractAsyncContextManager[UpstreamServer]:
    return upstream_server(ssl=ctx)


def server_ctx(ca: trustme.CA, *names: str, client_ca: trustme.CA | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*names).configure_cert(ctx)
    if client_ca is not None:
        client_ca.configure_trust(ctx)
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # so a missing client certificate fails the handshake
    return ctx


def gateway(target: str, **tls: object) -> dict[str, object]:
    return {
        "upstreams": {"app": {"targets": [target], "tls": tls}},
        "routes": [{"path": "/", "upstream": "app"}],
    }


async def get(port: int, path: str = "/") -> tuple[int, bytes, bytes]:
    import asyncio

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: public.example\r\nConnection: close\r\n\r\n".encode())
    async with asyncio.timeout(5):
        data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), head, body


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


async def test_a_verified_https_upstream_keeps_its_connection_alive(ca: trustme.CA, ca_file: str) -> None:
    async with (
        https_upstream(server_ctx(ca, "users.internal")) as up,
        run_gateway(gateway(up.address, ca_file=ca_file, server_name="users.internal")) as gw,
    ):
        for _ in range(3):
            status, _, body = await get(gw.port)
            assert status == 200, body
        assert len(up.requests) == 3
        assert up.connections == 1  # one TLS connection, kept alive


async def test_verification_failure_is_a_502_naming_the_reason(
    ca: trustme.CA, ca_file: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with https_upstream(server_ctx(ca, "users.internal")) as up:
        # The system store does not know our private CA.
        async with run_gateway(gateway(up.address, server_name="users.internal")) as gw:
            status, head, body = await get(gw.port)
        assert status == 502
        assert b"application/problem+json" in head
        assert json.loads(body)["detail"] == "the upstream's certificate could not be verified"
        # The expected name differs from the certificate's.
        async with run_gateway(gateway(up.address, ca_file=ca_file, server_name="orders.internal")) as gw:
            status, _, body = await get(gw.port)
        assert status == 502
        assert json.loads(body)["detail"] == "the upstream's certificate could not be verified"
        assert up.requests == []
    logged = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert "unable to get local issuer certificate" in logged
    assert "orders.internal" in logged or "Hostname mismatch" in logged


async def test_verify_off_accepts_any_certificate(ca: trustme.CA) -> None:
    async with (
        https_upstream(server_ctx(trustme.CA(), "whatever")) as up,
        run_gateway(gateway(up.address, verify=False)) as gw,
    ):
        assert (await get(gw.port))[0] == 200


async def test_mtls_to_an_upstream_that_requires_a_client_certificate(
    ca: trustme.CA, ca_file: str, tmp_path: Path
) -> None:
    clients = trustme.CA()
    client = write_cert(clients, tmp_path, "gateway", "gateway.internal")
    async with https_upstream(server_ctx(ca, "users.internal", client_ca=clients)) as up:
        tls = {"ca_file": ca_file, "server_name": "users.internal"}
        async with run_gateway(gateway(up.address, **tls, cert=str(client.cert), key=str(client.key))) as gw:
            status, _, body = await get(gw.port)
            assert status == 200, body
        async with run_gateway(gateway(up.address, **tls)) as gw:
            status, _, body = await get(gw.port)
            assert status == 502
            assert json.loads(body)["detail"] == "the TLS handshake with the upstream failed"
        # A client certificate from a CA the upstream does not trust is refused too.
        stranger = write_cert(trustme.CA(), tmp_path, "stranger", "gateway.internal")
        async with run_gateway(
            gateway(up.address, **tls, cert=str(stranger.cert), key=str(stranger.key))
        ) as gw:
            assert (await get(gw.port))[0] == 502
    assert len(up.requests) == 1


async def test_health_checks_use_the_targets_tls(ca: trustme.CA, ca_file: str) -> None:
    """Active checks of an https:// target speak TLS with the same verification as its requests:
    a healthy TLS upstream stays in rotation (a plaintext probe would eject it)."""
    config = gateway("", ca_file=ca_file, server_name="users.internal")
    async with https_upstream(server_ctx(ca, "users.internal")) as up:
        config["upstreams"]["app"] |= {  # type: ignore[index]
            "targets": [up.address],
            "health": {"path": "/health", "interval": "50ms", "timeout": "1s", "unhealthy": 1},
        }
        async with run_gateway(config) as gw:
            async with asyncio.timeout(5):  # bounded: the checks run every 50 ms
                while sum(r.target == "/health" for r in up.requests) < 3:  # noqa: ASYNC110 - no event for it
                    await asyncio.sleep(0.02)
            status, _, body = await get(gw.port, "/app")
    assert status == 200, body
    assert any(r.target == "/app" for r in up.requests)

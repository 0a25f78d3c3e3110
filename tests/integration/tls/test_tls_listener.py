"""The TLS listener: certificates by SNI (exact, wildcard, default), the protocol policy (ALPN,
versions), X-Forwarded-Proto, HSTS, the TLS version in the access log, handshake failures counted."""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path

import pytest
import trustme
from prometheus_client import REGISTRY

from portway.testing import run_gateway, upstream_server

from .support import HttpsClient, client_context, https_get, tls_config, write_cert


@pytest.fixture
def certs(ca: trustme.CA, tmp_path: Path) -> dict[str, object]:
    return {
        "default": write_cert(ca, tmp_path, "default", "default.example"),
        "exact": write_cert(ca, tmp_path, "exact", "api.example.com"),
        "wild": write_cert(ca, tmp_path, "wild", "*.apps.example.com"),
    }


async def test_the_certificate_is_chosen_by_sni(ca: trustme.CA, certs: dict) -> None:
    cfg = [certs["default"].config(), certs["exact"].config(), certs["wild"].config()]
    async with upstream_server() as up, run_gateway(tls_config(up.address, cfg)) as gw:
        ctx = client_context(ca)
        assert (await https_get(gw.port, ctx, "api.example.com")).serial == certs["exact"].serial
        assert (await https_get(gw.port, ctx, "shop.apps.example.com")).serial == certs["wild"].serial
        assert (await https_get(gw.port, ctx, "API.Example.COM")).serial == certs["exact"].serial
        # A wildcard covers one label only; unknown names and no SNI get the default certificate.
        loose = client_context(ca, check_hostname=False)
        assert (await https_get(gw.port, loose, "a.b.apps.example.com")).serial == certs["default"].serial
        assert (await https_get(gw.port, loose, "other.example")).serial == certs["default"].serial
        assert (await https_get(gw.port, loose, None, host="x")).serial == certs["default"].serial


async def test_names_may_be_configured_instead_of_read_from_the_certificate(
    ca: trustme.CA, tmp_path: Path
) -> None:
    default = write_cert(ca, tmp_path, "d", "default.example")
    multi = write_cert(ca, tmp_path, "m", "one.example", "two.example")
    cfg = [default.config(), multi.config(names=["two.example"])]
    async with upstream_server() as up, run_gateway(tls_config(up.address, cfg)) as gw:
        loose = client_context(ca, check_hostname=False)
        assert (await https_get(gw.port, loose, "two.example")).serial == multi.serial
        assert (await https_get(gw.port, loose, "one.example")).serial == default.serial


async def test_alpn_versions_forwarded_proto_hsts_and_access_log(
    ca: trustme.CA, certs: dict, tmp_path: Path
) -> None:
    log_path = tmp_path / "access.log"
    config = tls_config(
        up_address := "", [certs["default"].config()], hsts={"max_age": "1d", "include_subdomains": True}
    )
    async with upstream_server() as up:
        config["upstreams"]["app"]["targets"] = [up.address]
        config["access_log"] = {"enabled": True, "path": str(log_path), "flush_interval": "10ms"}
        async with run_gateway(config) as gw:
            response = await https_get(gw.port, client_context(ca), "default.example", "/hello")
            assert response.status == 200
            assert response.alpn == "http/1.1"
            assert response.version in ("TLSv1.3", "TLSv1.2")
            assert response.headers["strict-transport-security"] == "max-age=86400; includeSubDomains"
            seen = up.requests[-1]
            assert seen.header("x-forwarded-proto") == "https"
            # TLS 1.2 is accepted too (with an ECDHE AEAD suite).
            tls12 = client_context(ca, maximum_version=ssl.TLSVersion.TLSv1_2)
            client = await HttpsClient.connect(gw.port, tls12, "default.example")
            assert client.info["version"] == "TLSv1.2"
            cipher = client.writer.get_extra_info("ssl_object").cipher()[0]
            assert cipher.startswith("ECDHE-") and ("GCM" in cipher or "CHACHA20" in cipher)
            await client.close()
            async with asyncio.timeout(5):
                while not log_path.exists() or "/hello" not in log_path.read_text():  # noqa: ASYNC110 - polling: no event reports this
                    await asyncio.sleep(0.02)
    entries = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert entries[0]["path"] == "/hello"
    assert entries[0]["tls"] == response.version
    del up_address


async def test_plain_http_listener_records_no_tls_and_says_http(tmp_path: Path) -> None:
    async with upstream_server() as up:
        config = {
            "upstreams": {"app": {"targets": [up.address]}},
            "routes": [{"path": "/", "upstream": "app"}],
        }
        async with run_gateway(config) as gw:
            reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            async with asyncio.timeout(5):
                answer = await reader.read()
            writer.close()
            assert answer.startswith(b"HTTP/1.1 200")
            assert b"strict-transport-security" not in answer.lower()
            assert up.requests[-1].header("x-forwarded-proto") == "http"


def failures(reason: str) -> float:
    return REGISTRY.get_sample_value("portway_tls_handshake_failures_total", {"reason": reason}) or 0.0


async def read_all(port: int, data: bytes, ctx: ssl.SSLContext | None = None) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    try:
        async with asyncio.timeout(5):
            return await reader.read()
    except ConnectionResetError:
        return b""
    finally:
        writer.close()


async def wait_for(predicate, within: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - polling: no event reports this
            await asyncio.sleep(0.01)


async def test_handshake_failures_are_counted_by_reason_and_logged_without_traceback(
    ca: trustme.CA, certs: dict, caplog: pytest.LogCaptureFixture
) -> None:
    plaintext, version, cipher = (
        failures("plaintext"),
        failures("protocol_version"),
        failures("no_shared_cipher"),
    )
    other = failures("other")
    config = tls_config("http://127.0.0.1:9", [certs["default"].config()])
    config["admin"] = "127.0.0.1:0"
    async with run_gateway(config) as gw:
        assert await read_all(gw.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == b""
        await wait_for(lambda: failures("plaintext") == plaintext + 1)
        old = client_context(ca, check_hostname=False)
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            await HttpsClient.connect(gw.port, _tls11(old), "default.example")
        await wait_for(lambda: failures("protocol_version") == version + 1)
        assert failures("other") == other
        # A client offering only suites without forward secrecy finds none in common.
        weak = client_context(ca, maximum_version=ssl.TLSVersion.TLSv1_2)
        weak.set_ciphers("AES128-SHA:AES256-GCM-SHA384")
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            await HttpsClient.connect(gw.port, weak, "default.example")
        await wait_for(lambda: failures("no_shared_cipher") == cipher + 1)
        # The counter is on the admin /metrics.
        admin_port = gw.admin.sockets[0].getsockname()[1] if gw.admin is not None else 0
        metrics = await read_all(admin_port, b"GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        assert b'portway_tls_handshake_failures_total{reason="plaintext"}' in metrics
        # The listener still serves.
        assert (await https_get(gw.port, client_context(ca), "default.example")).status == 502
    assert not [r for r in caplog.records if r.exc_info]


def _tls11(ctx: ssl.SSLContext) -> ssl.SSLContext:
    import warnings

    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    return ctx

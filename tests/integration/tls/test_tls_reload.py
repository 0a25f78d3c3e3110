"""Certificates reload when their files change and on reload (SIGHUP), without dropping a request;
a bad new certificate keeps the old one and the log says which file and why."""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path

import pytest
import trustme

from portway.config import GatewayConfig
from portway.testing import run_gateway, upstream_server

from .support import HttpsClient, client_context, https_get, serial_of, tls_config, write_cert, write_leaf


async def serial_seen(port: int, ctx: ssl.SSLContext) -> int:
    return (await https_get(port, ctx, "site.example")).serial


async def wait_for_serial(port: int, ctx: ssl.SSLContext, serial: int, within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while await serial_seen(port, ctx) != serial:  # noqa: ASYNC110 - polling: no event reports this
            await asyncio.sleep(0.02)


async def test_reload_under_load_fails_no_request(ca: trustme.CA, tmp_path: Path) -> None:
    site = write_cert(ca, tmp_path, "site", "site.example")
    ctx = client_context(ca)
    stop = asyncio.Event()
    counts = {"ok": 0, "failed": 0}
    errors: list[str] = []

    async def new_connections() -> None:
        while not stop.is_set():
            try:
                client = await HttpsClient.connect(gw.port, ctx, "site.example")
                for _ in range(3):
                    ok = (await client.request("/load")).status == 200
                    counts["ok" if ok else "failed"] += 1
                await client.close()
            except (OSError, ssl.SSLError, asyncio.IncompleteReadError, TimeoutError) as exc:
                counts["failed"] += 1
                errors.append(repr(exc))

    async def keep_alive(client: HttpsClient) -> None:
        while not stop.is_set():
            try:
                ok = (await client.request("/kept")).status == 200
                counts["ok" if ok else "failed"] += 1
            except (OSError, ssl.SSLError, asyncio.IncompleteReadError, TimeoutError) as exc:
                counts["failed"] += 1
                errors.append(repr(exc))
                return
            await asyncio.sleep(0)

    async with upstream_server() as up:
        config = tls_config(up.address, [site.config()], watch="50ms")
        async with run_gateway(config) as gw:
            kept = [await HttpsClient.connect(gw.port, ctx, "site.example") for _ in range(2)]
            workers = [asyncio.create_task(new_connections()) for _ in range(4)]
            workers += [asyncio.create_task(keep_alive(c)) for c in kept]
            async with asyncio.timeout(5):
                while counts["ok"] < 50:  # noqa: ASYNC110 - polling: no event reports this
                    await asyncio.sleep(0.01)
            # 1. the files change (a renewal tool renames new files into place): the watcher swaps
            renewed = ca.issue_cert("site.example")
            write_leaf(renewed, site.cert, site.key)
            await wait_for_serial(gw.port, ctx, serial_of(site.cert))
            # 2. a reload (what SIGHUP calls) with the files changed again
            write_leaf(ca.issue_cert("site.example"), site.cert, site.key)
            assert gw.reload(GatewayConfig.model_validate(gw.config.model_dump()))
            assert await serial_seen(gw.port, ctx) == serial_of(site.cert)
            before = counts["ok"]
            async with asyncio.timeout(5):
                while counts["ok"] < before + 50:  # noqa: ASYNC110 - polling: no event reports this
                    await asyncio.sleep(0.01)
            stop.set()
            await asyncio.gather(*workers)
            # Connections opened before the swaps kept their certificate and kept working.
            assert all(c.info["serial"] == site.serial for c in kept)
            assert all(c.served > 10 for c in kept)
            for c in kept:
                await c.close()
    assert counts["failed"] == 0, errors[:5]
    assert counts["ok"] > 100
    assert gw.tls is not None and gw.tls.reloads >= 2


async def test_a_bad_new_certificate_keeps_the_old_one_and_says_why(
    ca: trustme.CA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    site = write_cert(ca, tmp_path, "site", "site.example")
    ctx = client_context(ca)
    caplog.set_level(logging.ERROR, logger="portway.tls")
    async with (
        upstream_server() as up,
        run_gateway(tls_config(up.address, [site.config()], watch="50ms")) as gw,
    ):
        # A renewal that went wrong: a new certificate but another key.
        other = ca.issue_cert("site.example")
        site.cert.write_bytes(b"".join(b.bytes() for b in other.cert_chain_pems))
        async with asyncio.timeout(5):
            while not any("not reloaded" in r.getMessage() for r in caplog.records):  # noqa: ASYNC110 - polling: no event reports this
                await asyncio.sleep(0.02)
        message = next(r.getMessage() for r in caplog.records if "not reloaded" in r.getMessage())
        assert str(site.key) in message and "does not match the certificate" in message
        assert await serial_seen(gw.port, ctx) == site.serial
        # The same through reload (SIGHUP): refused as a whole, the old certificate stays.
        assert not gw.reload(GatewayConfig.model_validate(gw.config.model_dump()))
        assert await serial_seen(gw.port, ctx) == site.serial
        # Fixed files are picked up again.
        write_leaf(other, site.cert, site.key)
        await wait_for_serial(gw.port, ctx, serial_of(site.cert))

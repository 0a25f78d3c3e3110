"""The plain-HTTP listener beside a TLS one only redirects: 308, path and query kept, and only for
hosts the certificates are for."""

from __future__ import annotations

import asyncio
from pathlib import Path

import trustme

from portway.testing import run_gateway, upstream_server

from .support import tls_config, write_cert


async def plain(port: int, target: str, host: str | None) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = [f"GET {target} HTTP/1.1", *([f"Host: {host}"] if host is not None else []), "Connection: close"]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    async with asyncio.timeout(5):
        data = await reader.read()
    writer.close()
    top, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = top.decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


async def test_the_redirect_listener_answers_308_to_https(ca: trustme.CA, tmp_path: Path) -> None:
    site = write_cert(ca, tmp_path, "site", "site.example", "*.apps.example")
    config = tls_config("http://127.0.0.1:9", [site.config()], redirect={"listen": "127.0.0.1:0"})
    async with upstream_server() as up:
        config["upstreams"]["app"]["targets"] = [up.address]
        async with run_gateway(config) as gw:
            assert gw.redirect is not None
            port = gw.redirect.sockets[0].getsockname()[1]
            status, headers, _ = await plain(port, "/a/b?x=1&y=%20", "Site.Example:8080")
            assert status == 308
            assert headers["location"] == f"https://site.example:{gw.port}/a/b?x=1&y=%20"
            status, headers, _ = await plain(port, "/", "shop.apps.example")
            assert headers["location"] == f"https://shop.apps.example:{gw.port}/"
            status, headers, _ = await plain(port, "http://site.example/p?q", "site.example")
            assert (status, headers["location"]) == (308, f"https://site.example:{gw.port}/p?q")
            # Hosts we have no certificate for are refused, never echoed into a Location.
            status, headers, _ = await plain(port, "/", "evil.example")
            assert status == 421 and "location" not in headers
            assert headers["content-type"] == "application/problem+json"
            status, _, _ = await plain(port, "/", "bad host!")
            assert status == 400
            status, _, _ = await plain(port, "/", None)  # HTTP/1.1 without Host: framing refuses it
            assert status == 400
            assert up.requests == []  # nothing reached the upstream


async def test_https_port_overrides_the_port_in_the_location(ca: trustme.CA, tmp_path: Path) -> None:
    site = write_cert(ca, tmp_path, "site", "site.example")
    config = tls_config(
        "http://127.0.0.1:9", [site.config()], redirect={"listen": "127.0.0.1:0", "https_port": 443}
    )
    async with run_gateway(config) as gw:
        assert gw.redirect is not None
        port = gw.redirect.sockets[0].getsockname()[1]
        _, headers, _ = await plain(port, "/x", "site.example")
        assert headers["location"] == "https://site.example/x"

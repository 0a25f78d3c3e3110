"""``unix:/path`` targets: the same proxying, keep-alive and balancing as TCP targets."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from portway.testing import run_gateway, upstream_server

from .wire import RawClient, get, route_config


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    # pytest's tmp_path can exceed the 107-byte limit of a unix socket path
    with tempfile.TemporaryDirectory(prefix="pw-", dir="/tmp") as path:
        yield Path(path)


async def test_unix_socket_target(sock_dir: Path) -> None:
    async with (
        upstream_server(uds=str(sock_dir / "up.sock")) as up,
        run_gateway(route_config(up.address, {"path": "/api/", "rewrite": "/"})) as gw,
    ):
        assert up.address.startswith("unix:/")
        client = await RawClient.connect(gw.port)
        for i in range(5):
            response = await client.request(get(f"/api/item/{i}?q=1"))
            assert response.status == 200
            assert response.json()["target"] == f"/item/{i}?q=1"
        body = b"x" * 100_000
        response = await client.request(
            b"PUT /api/blob HTTP/1.1\r\nHost: gw\r\nContent-Length: 100000\r\n\r\n" + body
        )
        assert response.status == 200
        await client.close()
        assert up.requests[-1].body == body
        assert up.connections == 1  # kept alive like a TCP target
        first = up.requests[0]
        assert first.header("host") == "localhost"
        assert first.header("x-forwarded-for") == "127.0.0.1"


async def test_unix_and_tcp_targets_mix_in_one_upstream(sock_dir: Path) -> None:
    async with (
        upstream_server(uds=str(sock_dir / "a.sock")) as a,
        upstream_server() as b,
        run_gateway(route_config([a.address, b.address])) as gw,
    ):
        client = await RawClient.connect(gw.port)
        for i in range(10):
            assert (await client.request(get(f"/{i}"))).status == 200
        await client.close()
        assert (len(a.requests), len(b.requests)) == (5, 5)


async def test_missing_socket_file_is_502(sock_dir: Path) -> None:
    config = route_config(f"unix:{sock_dir / 'nobody-home.sock'}")
    async with run_gateway(config) as gw:
        client = await RawClient.connect(gw.port)
        response = await client.request(get("/"))
        await client.close()
        assert response.status == 502
        assert response.header("content-type") == "application/problem+json"
        assert "nobody-home" not in response.body.decode()  # internals stay in the gateway's log

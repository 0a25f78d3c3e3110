"""`portway up --tls`: a private CA and a gateway certificate in the data directory (keys 0600),
HTTPS on the gateway's port, and the curl line that trusts the CA."""

from __future__ import annotations

import importlib.util
import ssl
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from portway.local.certs import ensure_local_tls


def _e2e_support():  # type: ignore[no-untyped-def]
    """tests/e2e/local/support.py (the `portway up` process harness), loaded by path."""
    path = Path(__file__).resolve().parents[2] / "e2e" / "local" / "support.py"
    spec = importlib.util.spec_from_file_location("portway_e2e_local_support", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_support = _e2e_support()
PortwayUp, tiny_config = _support.PortwayUp, _support.tiny_config


@pytest.fixture
def started() -> Iterator[list[PortwayUp]]:
    runs: list[PortwayUp] = []
    yield runs
    for run in runs:
        run.cleanup()


def test_local_ca_files_are_private_and_kept(tmp_path: Path) -> None:
    first = ensure_local_tls(tmp_path / "tls")
    for key in (tmp_path / "tls" / "ca-key.pem", first.key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    ca_before, cert_before = first.ca.read_bytes(), first.cert.read_bytes()
    second = ensure_local_tls(tmp_path / "tls")
    assert second.ca.read_bytes() == ca_before and second.cert.read_bytes() == cert_before
    ctx = ssl.create_default_context(cafile=str(first.ca))
    ctx.load_cert_chain(first.cert, first.key)  # the pair matches
    # Asking for another name reissues the certificate under the same CA.
    third = ensure_local_tls(tmp_path / "tls", ("localhost", "portway.test"))
    assert third.ca.read_bytes() == ca_before and third.cert.read_bytes() != cert_before


@pytest.mark.slow
def test_portway_up_tls_serves_https_and_prints_the_curl_line(
    tmp_path: Path, started: list[PortwayUp]
) -> None:
    up = PortwayUp(tiny_config(tmp_path), "--tls").start()
    started.append(up)
    base = up.wait_for(r"gateway on (https://\S+),", within=60).group(1)
    up.wait_for(r"^Try it:")
    ca = up.data_dir / "tls" / "ca.pem"
    line = up.wait_for(r"curl --cacert (\S+) (https://\S+)").group(0)
    assert line.endswith(f"curl --cacert {ca} {base}/")
    response = httpx.get(f"{base}/tiny/", verify=ssl.create_default_context(cafile=str(ca)), timeout=5)
    assert response.status_code == 200
    with pytest.raises(httpx.ConnectError):  # not without the CA
        httpx.get(f"{base}/tiny/", timeout=5)
    assert stat.S_IMODE((up.data_dir / "tls" / "gateway-key.pem").stat().st_mode) == 0o600
    assert up.stop() == 0

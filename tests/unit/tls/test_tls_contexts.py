"""build_contexts: every bad TLS input is a config error ``file:line: key.path: message``; the SNI
table, the redirect's Host check and the handshake-failure log are pure and tested as such."""

from __future__ import annotations

import datetime
import logging
from pathlib import Path

import pytest
import trustme

from portway.config import ConfigError, load_config
from portway.server.tls import HandshakeFailures, build_contexts, classify, redirect_host

CA = trustme.CA()


def files(tmp_path: Path, stem: str, *names: str, **kwargs: object) -> tuple[Path, Path]:
    leaf = CA.issue_cert(*names, **kwargs)  # type: ignore[arg-type]
    cert, key = tmp_path / f"{stem}.pem", tmp_path / f"{stem}.key"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    return cert, key


def config_file(tmp_path: Path, cert: Path | str, key: Path | str, extra: str = "") -> Path:
    path = tmp_path / "portway.yaml"
    path.write_text(
        f"listen: 127.0.0.1:0\ntls:\n  certificates:\n    - cert: {cert}\n      key: {key}\n" + extra
    )
    return path


def problems(path: Path) -> str:
    config = load_config(path)
    with pytest.raises(ConfigError) as caught:
        build_contexts(config, str(path))
    return str(caught.value)


def test_good_files_build(tmp_path: Path) -> None:
    cert, key = files(tmp_path, "site", "site.example")
    path = config_file(tmp_path, cert, key)
    contexts = build_contexts(load_config(path), str(path))
    assert contexts.listener is not None and contexts.listener.lookup("site.example") is not None


def test_a_missing_key(tmp_path: Path) -> None:
    cert, _ = files(tmp_path, "site", "site.example")
    path = config_file(tmp_path, cert, tmp_path / "nope.key")
    assert problems(path) == (
        f"{path}:5: tls.certificates[0].key: cannot read {tmp_path / 'nope.key'}: No such file or directory"
    )


def test_an_unreadable_key(tmp_path: Path) -> None:
    cert, _ = files(tmp_path, "site", "site.example")
    (tmp_path / "dir.key").mkdir()  # (we may run as root, who reads any file: a directory it cannot)
    path = config_file(tmp_path, cert, tmp_path / "dir.key")
    assert problems(path).startswith(f"{path}:5: tls.certificates[0].key: cannot read ")
    assert "Is a directory" in problems(path)


def test_a_key_that_does_not_match_its_certificate(tmp_path: Path) -> None:
    cert, _ = files(tmp_path, "site", "site.example")
    _, other_key = files(tmp_path, "other", "site.example")
    path = config_file(tmp_path, cert, other_key)
    assert problems(path) == (
        f"{path}:5: tls.certificates[0].key: {other_key} does not match the certificate in {cert}"
    )


def test_an_expired_certificate(tmp_path: Path) -> None:
    past = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    cert, key = files(
        tmp_path, "old", "site.example", not_before=past, not_after=past + datetime.timedelta(days=90)
    )
    path = config_file(tmp_path, cert, key)
    assert problems(path) == f"{path}:4: tls.certificates[0].cert: {cert} expired on 2020-03-31 00:00 UTC"


def test_not_a_certificate(tmp_path: Path) -> None:
    _, key = files(tmp_path, "site", "site.example")
    junk = tmp_path / "junk.pem"
    junk.write_text("hello\n")
    message = problems(config_file(tmp_path, junk, key))
    assert "tls.certificates[0].cert:" in message and str(junk) in message


def test_upstream_ca_file_and_client_certificate(tmp_path: Path) -> None:
    path = tmp_path / "portway.yaml"
    path.write_text(
        "upstreams:\n"
        "  users:\n"
        "    targets: [https://users.internal:8443]\n"
        "    tls:\n"
        f"      ca_file: {tmp_path / 'missing-ca.pem'}\n"
        "  orders:\n"
        "    targets: [https://orders.internal:8443]\n"
        "    tls:\n"
        f"      cert: {tmp_path / 'client.pem'}\n"
        f"      key: {tmp_path / 'client.key'}\n"
    )
    text = problems(path)
    assert f"{path}:5: upstreams.users.tls.ca_file: cannot read" in text
    assert f"{path}:9: upstreams.orders.tls.cert: cannot read" in text


def test_an_https_target_needs_no_config_to_verify_against_the_system_store(tmp_path: Path) -> None:
    path = tmp_path / "portway.yaml"
    path.write_text("upstreams:\n  users:\n    targets: [https://users.internal]\n")
    contexts = build_contexts(load_config(path), str(path))
    assert set(contexts.upstreams) == {"users"}
    assert contexts.upstreams["users"].check_hostname


def test_sni_table_exact_wildcard_default(tmp_path: Path) -> None:
    d, dk = files(tmp_path, "d", "default.example")
    w, wk = files(tmp_path, "w", "*.apps.example")
    path = config_file(tmp_path, d, dk, f"    - cert: {w}\n      key: {wk}\n")
    table = build_contexts(load_config(path), str(path)).listener
    assert table is not None
    assert table.select("x.apps.example") is table.wildcard["apps.example"]
    assert table.select("X.APPS.EXAMPLE.") is table.wildcard["apps.example"]
    assert table.select("a.x.apps.example") is table.default
    assert table.select("apps.example") is table.default
    assert table.select(None) is table.default
    assert table.serves("default.example") and not table.serves("evil.example")


@pytest.mark.parametrize(
    ("raw", "host"),
    [
        (b"site.example", b"site.example"),
        (b"Site.Example:8080", b"site.example"),
        (b"10.0.0.1:80", b"10.0.0.1"),
        (b"[::1]:8080", b"[::1]"),
        (b"", None),
        (b"evil.example/x", None),
        (b"a b", None),
        (b"site.example:80x", None),
        (b"[zz]", None),
        (b"site.example:1234567", None),
    ],
)
def test_redirect_host(raw: bytes, host: bytes | None) -> None:
    assert redirect_host(raw) == host


class Reason(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def test_classify() -> None:
    assert classify(Reason("HTTP_REQUEST")) == "plaintext"
    assert classify(Reason("WRONG_VERSION_NUMBER")) == "not_tls"
    assert classify(Reason("UNSUPPORTED_PROTOCOL")) == "protocol_version"
    assert classify(Reason("NO_SHARED_CIPHER")) == "no_shared_cipher"
    assert classify(Reason("TLSV1_ALERT_UNKNOWN_CA")) == "client_alert"
    assert classify(Reason("SOMETHING_ELSE")) == "other"


def test_handshake_failures_log_one_line_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    failures = HandshakeFailures(every=10.0, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="portway.tls")
    failures.record(Reason("HTTP_REQUEST"))
    for _ in range(50):
        now[0] += 0.1
        failures.record(Reason("HTTP_REQUEST"))
    failures.record(Reason("NO_SHARED_CIPHER"))
    assert len(caplog.records) == 1
    now[0] += 10
    failures.record(Reason("HTTP_REQUEST"))
    assert len(caplog.records) == 2
    assert "plaintext: 51, no_shared_cipher: 1" in caplog.records[1].getMessage()
    assert not any(r.exc_info for r in caplog.records)

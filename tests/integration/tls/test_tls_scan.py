"""The listener as a real scanner sees it (sslyze): TLS 1.2 and 1.3 only, no weak suites, the chain
complete, no compression, secure renegotiation only, resumption works. Findings: docs/tls.md."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from portway.local.certs import issue, make_ca, write_chain
from portway.testing import run_gateway

from .support import tls_config

sslyze = pytest.importorskip("sslyze")

WEAK = ("RC4", "3DES", "DES-CBC", "NULL", "EXPORT", "anon", "MD5", "CBC", "SHA1")


def scan(port: int, ca_file: Path) -> Any:
    from sslyze import (
        ScanCommand,
        Scanner,
        ServerNetworkConfiguration,
        ServerNetworkLocation,
        ServerScanRequest,
    )
    from sslyze.plugins.certificate_info.implementation import CertificateInfoExtraArgument
    from sslyze.scanner.models import ScanCommandsExtraArguments

    location = ServerNetworkLocation("site.example", port, ip_address="127.0.0.1")
    request = ServerScanRequest(
        server_location=location,
        network_configuration=ServerNetworkConfiguration(tls_server_name_indication="site.example"),
        scan_commands={
            ScanCommand.SSL_2_0_CIPHER_SUITES,
            ScanCommand.SSL_3_0_CIPHER_SUITES,
            ScanCommand.TLS_1_0_CIPHER_SUITES,
            ScanCommand.TLS_1_1_CIPHER_SUITES,
            ScanCommand.TLS_1_2_CIPHER_SUITES,
            ScanCommand.TLS_1_3_CIPHER_SUITES,
            ScanCommand.TLS_COMPRESSION,
            ScanCommand.SESSION_RENEGOTIATION,
            ScanCommand.SESSION_RESUMPTION,
            ScanCommand.CERTIFICATE_INFO,
            ScanCommand.TLS_FALLBACK_SCSV,
            ScanCommand.HEARTBLEED,
            ScanCommand.OPENSSL_CCS_INJECTION,
        },
        scan_commands_extra_arguments=ScanCommandsExtraArguments(
            certificate_info=CertificateInfoExtraArgument(custom_ca_file=ca_file)
        ),
    )
    scanner = Scanner()
    scanner.queue_scans([request])
    return next(iter(scanner.get_results()))


@pytest.mark.slow
# sslyze's bundled trust stores hold an old root with a zero serial number, which cryptography warns about
@pytest.mark.filterwarnings("ignore:Parsed a serial number:cryptography.utils.CryptographyDeprecationWarning")
async def test_sslyze_finds_nothing_weak(tmp_path: Path) -> None:
    # (made with cryptography: trustme marks subjectAltName critical, which strict verifiers refuse)
    root = make_ca("scan root")
    intermediate = make_ca("scan intermediate", parent=root)
    ca_file, _ = write_chain(tmp_path, "root", root)
    cert, key = write_chain(tmp_path, "site", issue(intermediate, ("site.example",)), intermediate.cert)
    config = tls_config("http://127.0.0.1:9", [{"cert": str(cert), "key": str(key)}])
    async with run_gateway(config) as gw:
        async with asyncio.timeout(110):
            result = await asyncio.to_thread(scan, gw.port, ca_file)
    assert result.connectivity_error_trace is None, result.connectivity_error_trace
    scans = result.scan_result
    for name in ("ssl_2_0", "ssl_3_0", "tls_1_0", "tls_1_1"):
        attempt = getattr(scans, f"{name}_cipher_suites")
        assert attempt.error_trace is None
        assert attempt.result.accepted_cipher_suites == [], name
    tls12 = [s.cipher_suite.openssl_name for s in scans.tls_1_2_cipher_suites.result.accepted_cipher_suites]
    tls13 = [s.cipher_suite.name for s in scans.tls_1_3_cipher_suites.result.accepted_cipher_suites]
    assert tls12 and tls13
    assert all(name.startswith("ECDHE-") and not any(w in name for w in WEAK) for name in tls12), tls12
    assert set(tls13) <= {"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"}
    assert scans.tls_compression.result.supports_compression is False
    renegotiation = scans.session_renegotiation.result
    assert renegotiation.supports_secure_renegotiation is True
    assert renegotiation.is_vulnerable_to_client_renegotiation_dos is False
    assert scans.certificate_info.error_trace is None, "".join(scans.certificate_info.error_trace.format())
    deployment = scans.certificate_info.result.certificate_deployments[0]
    assert len(deployment.received_certificate_chain) == 2  # leaf and intermediate: complete
    assert deployment.received_chain_has_valid_order
    assert deployment.ocsp_response is None  # no stapling (out of scope)
    custom = [r for r in deployment.path_validation_results if r.trust_store.path == ca_file]
    assert custom and custom[0].was_validation_successful, custom[0].validation_error
    assert scans.tls_fallback_scsv.result.supports_fallback_scsv is True
    assert scans.heartbleed.result.is_vulnerable_to_heartbleed is False
    assert scans.openssl_ccs_injection.result.is_vulnerable_to_ccs_injection is False
    resumption = scans.session_resumption.result
    assert resumption.tls_ticket_successful_resumptions_count > 0

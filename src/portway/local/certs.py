"""A private CA for local mode (``portway up --tls``): made once in the data directory, then a
gateway certificate it signs for ``localhost``, ``127.0.0.1`` and ``::1``.

Rules:
- Keys are ECDSA P-256, written 0600 (created with that mode, never widened); the CA's key never
  leaves the data directory, and only ``ca.pem`` is meant to be handed to clients (``curl --cacert``).
- The CA is kept across runs (so a browser or a trust store that imported it keeps working); the
  gateway certificate is reissued when it is missing, expires within 30 days, or lacks a name asked.
- Certificates follow RFC 5280 as strict verifiers read it: the CA has ``BasicConstraints(ca)``
  and ``KeyUsage(keyCertSign)``; the leaf a non-critical subjectAltName, ``serverAuth``.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
_RENEW_BEFORE = datetime.timedelta(days=30)
_CA_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


@dataclass(frozen=True)
class Issuer:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class LocalTls:
    ca: Path  # give this to clients
    cert: Path  # the gateway's chain
    key: Path


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def _write_pem(path: Path, *certs: x509.Certificate) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    tmp.replace(path)


def make_ca(name: str, parent: Issuer | None = None, days: int = 3650) -> Issuer:
    """A CA (self-signed, or signed by ``parent`` as an intermediate)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(parent.cert.subject if parent is not None else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(
            x509.BasicConstraints(ca=True, path_length=None if parent is None else 0), critical=True
        )
        .add_extension(_CA_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if parent is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()), critical=False
        )
    signer = parent.key if parent is not None else key
    return Issuer(builder.sign(signer, hashes.SHA256()), key)


def issue(issuer: Issuer, names: tuple[str, ...], days: int = 397) -> Issuer:
    """A server certificate for ``names`` (DNS names or IP addresses)."""
    key = ec.generate_private_key(ec.SECP256R1())
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
        .sign(issuer.key, hashes.SHA256())
    )
    return Issuer(cert, key)


def write_chain(directory: Path, stem: str, leaf: Issuer, *chain: x509.Certificate) -> tuple[Path, Path]:
    """``stem.pem`` (leaf then intermediates) and ``stem-key.pem`` (0600)."""
    cert, key = directory / f"{stem}.pem", directory / f"{stem}-key.pem"
    _write_key(key, leaf.key)
    _write_pem(cert, leaf.cert, *chain)
    return cert, key


def _load(cert: Path, key: Path) -> Issuer | None:
    try:
        certificate = x509.load_pem_x509_certificate(cert.read_bytes())
        private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        return None
    return Issuer(certificate, private)


def _names_of(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {
        *san.get_values_for_type(x509.DNSName),
        *(str(ip) for ip in san.get_values_for_type(x509.IPAddress)),
    }


def ensure_local_tls(directory: Path, names: tuple[str, ...] = LOCAL_NAMES) -> LocalTls:
    """The data directory's CA (made on first use) and a current gateway certificate."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca_cert, ca_key = directory / "ca.pem", directory / "ca-key.pem"
    ca = _load(ca_cert, ca_key)
    renewed = ca is None or ca.cert.not_valid_after_utc - _now() < _RENEW_BEFORE
    if ca is None or renewed:
        ca = make_ca("portway local CA")
        write_chain(directory, "ca", ca)
    cert, key = directory / "gateway.pem", directory / "gateway-key.pem"
    current = _load(cert, key)
    if (
        renewed
        or current is None
        or current.cert.issuer != ca.cert.subject
        or current.cert.not_valid_after_utc - _now() < _RENEW_BEFORE
        or not set(names) <= _names_of(current.cert)
    ):
        write_chain(directory, "gateway", issue(ca, names))
    return LocalTls(ca_cert, cert, key)

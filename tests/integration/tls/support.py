"""Certificates (trustme) written to files, and a small HTTPS client that says which certificate
the gateway presented: what the TLS tests share."""

from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from cryptography import x509


@dataclass
class CertFiles:
    cert: Path
    key: Path
    serial: int

    def config(self, **extra: Any) -> dict[str, Any]:
        return {"cert": str(self.cert), "key": str(self.key), **extra}


def write_cert(ca: trustme.CA, directory: Path, stem: str, *names: str, **kwargs: Any) -> CertFiles:
    leaf = ca.issue_cert(*names, **kwargs)
    cert, key = directory / f"{stem}.pem", directory / f"{stem}-key.pem"
    write_leaf(leaf, cert, key)
    return CertFiles(cert, key, serial_of(cert))


def write_leaf(leaf: trustme.LeafCert, cert: Path, key: Path) -> None:
    """Write a chain and key the way a renewal tool does: to a temporary name, then rename."""
    for path, data in (
        (cert, b"".join(b.bytes() for b in leaf.cert_chain_pems)),
        (key, leaf.private_key_pem.bytes()),
    ):
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.chmod(0o600)
        tmp.replace(path)


def serial_of(cert: Path) -> int:
    return x509.load_pem_x509_certificates(cert.read_bytes())[0].serial_number


def client_context(ca: trustme.CA, **options: Any) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    for name, value in options.items():
        setattr(ctx, name, value)
    return ctx


@dataclass
class HttpsResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    serial: int  # of the certificate the gateway presented
    version: str
    alpn: str | None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpsClient:
    """One TLS connection to the gateway; ``request`` may be called again (keep-alive)."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    host: str
    served: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    async def connect(
        cls, port: int, ctx: ssl.SSLContext, server_name: str | None, host: str | None = None
    ) -> HttpsClient:
        async with asyncio.timeout(5):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=ctx, server_hostname=server_name
            )
        sslobj = writer.get_extra_info("ssl_object")
        der = sslobj.getpeercert(binary_form=True)
        info = {
            "serial": x509.load_der_x509_certificate(der).serial_number,
            "version": sslobj.version(),
            "alpn": sslobj.selected_alpn_protocol(),
        }
        return cls(reader, writer, host or server_name or "localhost", info=info)

    async def request(
        self, path: str = "/", method: str = "GET", headers: tuple[str, ...] = ()
    ) -> HttpsResponse:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", *headers, "", ""]
        async with asyncio.timeout(5):
            self.writer.write("\r\n".join(lines).encode())
            head = await self.reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            fields = {}
            for line in header_lines:
                if line:
                    name, _, value = line.partition(":")
                    fields[name.strip().lower()] = value.strip()
            length = int(fields.get("content-length", "0"))
            body = await self.reader.readexactly(length) if length else b""
        self.served += 1
        return HttpsResponse(
            int(status_line.split()[1]),
            fields,
            body,
            self.info["serial"],
            self.info["version"],
            self.info["alpn"],
        )

    async def close(self) -> None:
        self.writer.close()
        try:
            async with asyncio.timeout(2):
                await self.writer.wait_closed()
        except (TimeoutError, OSError, ssl.SSLError):
            pass


async def https_get(
    port: int, ctx: ssl.SSLContext, server_name: str | None, path: str = "/", host: str | None = None
) -> HttpsResponse:
    client = await HttpsClient.connect(port, ctx, server_name, host)
    try:
        return await client.request(path)
    finally:
        await client.close()


def tls_config(upstream: str, certificates: list[dict[str, Any]], **tls: Any) -> dict[str, Any]:
    return {
        "tls": {"certificates": certificates, **tls},
        "upstreams": {"app": {"targets": [upstream]}},
        "routes": [{"path": "/", "upstream": "app"}],
    }

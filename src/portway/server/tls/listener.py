"""The TLS listener: its protocol policy, the SNI table of certificates, reloading them, and the
connection that serves HTTP over TLS.

Rules:
- The listener's policy: TLS 1.2 and 1.3 only; ECDHE key exchange with AES-GCM or ChaCha20-Poly1305
  (TLS 1.3's suites are all AEAD); ALPN ``http/1.1``; no compression; no renegotiation; session
  tickets on (resumption). OCSP stapling is not offered (docs/tls.md).
- One *outer* context is handed to the server once and never replaced; its ``sni_callback`` points
  each new connection at a certificate's context from the current :class:`SniTable` (exact name,
  then ``*.parent``, then the default: the first certificate). Reload builds a whole new table and
  swaps one reference: handshakes in progress and open connections keep what they have. Session
  tickets are sealed by the outer context, so they survive a reload.
- A reload that fails (a bad new certificate) keeps the running table and logs the file and why.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Iterable

from portway.config.tls import ListenerTls
from portway.server.protocol import HttpConnection
from portway.server.state import ServerState
from portway.server.tls.failures import FAILURES, install_exception_filter
from portway.server.tls.files import Loc, Problems, file_stamp, leaf, load_pair, no_passphrase, san_names
from portway.tasks import spawn

log = logging.getLogger("portway.tls")

VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
# TLS 1.2 suites; TLS 1.3's (AES-GCM, ChaCha20-Poly1305) are OpenSSL's defaults and all AEAD.
CIPHERS_TLS12 = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!SHA1:!SHA256:!SHA384:!DSS"
ALPN = ["http/1.1"]


# -- the listener's contexts ---------------------------------------------------------------------
def server_context(tls: ListenerTls) -> ssl.SSLContext:
    """A server context with the listener's protocol policy and no certificate yet."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = VERSIONS[tls.min_version]
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_ciphers(CIPHERS_TLS12)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION | ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.options |= ssl.OP_SINGLE_ECDH_USE
    if not tls.session_tickets:
        ctx.options |= ssl.OP_NO_TICKET
    ctx.set_alpn_protocols(ALPN)
    return ctx


class SniTable:
    """Certificates by name (immutable once built): exact, then one wildcard level, then default."""

    def __init__(self, entries: list[tuple[list[str], ssl.SSLContext]], files: Iterable[str]) -> None:
        self.exact: dict[str, ssl.SSLContext] = {}
        self.wildcard: dict[str, ssl.SSLContext] = {}
        self.default = entries[0][1]
        for names, ctx in entries:
            for name in names:
                if name.startswith("*."):
                    self.wildcard.setdefault(name[2:], ctx)
                else:
                    self.exact.setdefault(name, ctx)
        self.files = tuple(files)
        self.stamp = file_stamp(self.files)

    def lookup(self, name: str) -> ssl.SSLContext | None:
        name = name.lower().rstrip(".")
        ctx = self.exact.get(name)
        if ctx is None:
            _, dot, parent = name.partition(".")
            ctx = self.wildcard.get(parent) if dot else None
        return ctx

    def select(self, name: str | None) -> ssl.SSLContext:
        return (self.lookup(name) if name else None) or self.default

    def serves(self, host: str) -> bool:
        """Is ``host`` one of the names the certificates are for (the redirect listener asks)?"""
        return self.lookup(host) is not None


def build_table(tls: ListenerTls, problems: Problems) -> SniTable | None:
    entries: list[tuple[list[str], ssl.SSLContext]] = []
    files: list[str] = []
    for i, cert in enumerate(tls.certificates):
        loc: Loc = ("tls", "certificates", i)
        files += (cert.cert, cert.key)
        ctx = server_context(tls)
        if not load_pair(ctx, cert.cert, cert.key, loc, problems):
            continue
        leaf_cert = leaf(cert.cert, loc, problems)
        if leaf_cert is None:
            continue
        names = cert.names if cert.names is not None else san_names(leaf_cert)
        if not names and i > 0:
            problems.add((*loc, "names"), f"{cert.cert} has no DNS names in its subjectAltName: set `names`")
            continue
        entries.append((names, ctx))
    if problems.problems:
        return None
    return SniTable(entries, files)


class _CountingSSLObject(ssl.SSLObject):
    """Counts handshakes that fail: asyncio and uvloop report those only in debug mode."""

    def do_handshake(self) -> None:
        try:
            super().do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise
        except ssl.SSLError as exc:
            FAILURES.record(exc)
            raise


class ListenerCertificates:
    """The listener's TLS: the outer context the server holds, and the swappable SNI table."""

    def __init__(self, tls: ListenerTls, table: SniTable, source: str) -> None:
        self.config = tls
        self.table = table
        self.source = source
        self.reloads = 0
        self.context = server_context(tls)
        default = tls.certificates[0]
        self.context.load_cert_chain(default.cert, default.key, password=no_passphrase)
        self.context.sni_callback = self._select
        self.context.sslobject_class = _CountingSSLObject
        self._watcher: asyncio.Task[None] | None = None

    def _select(self, sslobj: ssl.SSLObject, name: str | None, _outer: ssl.SSLContext) -> None:
        sslobj.context = self.table.select(name)

    def install(self, table: SniTable) -> None:
        self.table = table
        self.reloads += 1

    def reload(self, tls: ListenerTls | None = None) -> bool:
        """Re-read the certificate files (of ``tls``, or the running config's); keep the old on error."""
        tls = tls or self.config
        problems = Problems(self.source)
        table = build_table(tls, problems)
        if table is None:
            log.error(
                "certificates not reloaded, still serving the previous ones:\n%s",
                "\n".join(str(p) for p in problems.problems),
            )
            return False
        self.config = tls
        self.install(table)
        log.info("certificates reloaded (%d)", len(tls.certificates))
        return True

    def start_watching(self) -> None:
        if self.config.watch > 0 and self._watcher is None:
            self._watcher = spawn(self._watch(), name="watch certificate files")

    def stop_watching(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.config.watch)
            table = self.table
            stamp = file_stamp(table.files)
            if stamp != table.stamp and not self.reload():
                # Do not retry the same broken files every tick: wait for them to change again.
                table.stamp = stamp


class TlsHttpConnection(HttpConnection):
    """A client connection over TLS: asyncio has done the handshake before ``connection_made``."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sslobj = transport.get_extra_info("ssl_object")
        if sslobj is not None:
            self.tls_version = sslobj.version() or ""
        super().connection_made(transport)


async def listen_tls(
    state: ServerState, sock: socket.socket, certificates: ListenerCertificates
) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    install_exception_filter(loop)
    return await loop.create_server(
        lambda: TlsHttpConnection(state),
        sock=sock,
        ssl=certificates.context,
        ssl_handshake_timeout=certificates.config.handshake_timeout,
    )

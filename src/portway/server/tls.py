"""TLS at the edge and towards upstreams: contexts built from config, SNI, reload, redirects.

Rules:
- Everything is built at config-build time by :func:`build_contexts` (``portway run``, reload and
  ``portway check`` alike): a missing or unreadable file, a key that does not match its
  certificate, an expired certificate, a bad CA bundle are each a :class:`ConfigError` at the
  line of the key that names the file. A request never meets a TLS config problem.
- The listener's policy: TLS 1.2 and 1.3 only; ECDHE key exchange with AES-GCM or ChaCha20-Poly1305
  (TLS 1.3's suites are all AEAD); ALPN ``http/1.1``; no compression; no renegotiation; session
  tickets on (resumption). OCSP stapling is not offered (docs/tls.md).
- One *outer* context is handed to the server once and never replaced; its ``sni_callback`` points
  each new connection at a certificate's context from the current :class:`SniTable` (exact name,
  then ``*.parent``, then the default: the first certificate). Reload builds a whole new table and
  swaps one reference: handshakes in progress and open connections keep what they have. Session
  tickets are sealed by the outer context, so they survive a reload.
- A reload that fails (a bad new certificate) keeps the running table and logs the file and why.
- Handshake failures (plaintext on the TLS port, old protocol versions, no shared cipher, a client
  rejecting our certificate) never reach a traceback: they are counted by reason
  (``portway_tls_handshake_failures_total``) and logged at most once per :data:`LOG_EVERY` seconds
  with the counts since the last line.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import ipaddress
import logging
import os
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from prometheus_client import Counter

from portway.config.errors import ConfigError, ConfigProblem, format_path
from portway.config.models import GatewayConfig
from portway.config.tls import ListenerTls, UpstreamTls
from portway.contract import Answer, Decision, RequestHead, Responder
from portway.errors import ClientError
from portway.server.protocol import HttpConnection
from portway.server.state import ServerState
from portway.tasks import spawn

log = logging.getLogger("portway.tls")

VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
# TLS 1.2 suites; TLS 1.3's (AES-GCM, ChaCha20-Poly1305) are OpenSSL's defaults and all AEAD.
CIPHERS_TLS12 = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!SHA1:!SHA256:!SHA384:!DSS"
ALPN = ["http/1.1"]
LOG_EVERY = 10.0

HANDSHAKE_FAILURES = Counter(
    "portway_tls_handshake_failures",
    "TLS handshakes on the listener that failed, by reason",
    ["reason"],
)

Loc = tuple[int | str, ...]


# -- config errors with their line ---------------------------------------------------------------
class _Problems:
    """Collects problems as ``file:line: key.path: message``, finding lines in the source file."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[ConfigProblem] = []
        self._lines: dict[Loc, int] | None = None

    def add(self, loc: Loc, message: str) -> None:
        self.problems.append(ConfigProblem(self.source, self._line(loc), format_path(loc), message))

    def raise_if_any(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)

    def _line(self, loc: Loc) -> int | None:
        if self._lines is None:
            self._lines = _line_map(self.source)
        for end in range(len(loc), -1, -1):
            if (line := self._lines.get(loc[:end])) is not None:
                return line
        return None


def _line_map(source: str) -> dict[Loc, int]:
    try:
        root = yaml.compose(Path(source).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    lines: dict[Loc, int] = {}

    def walk(node: yaml.Node, loc: Loc) -> None:
        lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    lines[(*loc, key.value)] = key.start_mark.line + 1
                    walk(value, (*loc, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*loc, i))

    if root is not None:
        walk(root, ())
    return lines


class _Encrypted(Exception):
    pass


def _no_passphrase() -> bytes:
    raise _Encrypted


def _load_pair(ctx: ssl.SSLContext, cert: str, key: str, loc: Loc, problems: _Problems) -> bool:
    """Load a certificate chain and its key into ``ctx``; report why not, at the right key."""
    for name, path in (("cert", cert), ("key", key)):
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            problems.add((*loc, name), f"cannot read {path}: {exc.strerror or exc}")
            return False
    try:
        ctx.load_cert_chain(cert, key, password=_no_passphrase)
    except _Encrypted:
        problems.add((*loc, "key"), f"{key} is encrypted with a passphrase (not supported)")
        return False
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            problems.add((*loc, "key"), f"{key} does not match the certificate in {cert}")
        elif "PEM" in str(exc.reason) or exc.library == "PEM":
            problems.add((*loc, "cert"), f"{cert} or {key} is not valid PEM ({exc.reason})")
        else:
            problems.add((*loc, "cert"), f"cannot use {cert} with {key}: {exc.reason or exc}")
        return False
    try:
        if os.stat(key).st_mode & 0o077:
            log.warning("%s is readable by other users: it should be mode 0600 or 0400", key)
    except OSError:
        pass
    return True


def _leaf(cert: str, loc: Loc, problems: _Problems) -> x509.Certificate | None:
    """The chain's first certificate, checked for its validity period."""
    try:
        with open(cert, "rb") as f:
            chain = x509.load_pem_x509_certificates(f.read())
    except (OSError, ValueError) as exc:
        problems.add((*loc, "cert"), f"{cert} holds no PEM certificate ({exc})")
        return None
    leaf = chain[0]
    now = datetime.datetime.now(datetime.UTC)
    if leaf.not_valid_after_utc <= now:
        problems.add((*loc, "cert"), f"{cert} expired on {leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
        return None
    if leaf.not_valid_before_utc > now:
        problems.add((*loc, "cert"), f"{cert} is not valid before {leaf.not_valid_before_utc:%Y-%m-%d} UTC")
        return None
    return leaf


def _san_names(leaf: x509.Certificate) -> list[str]:
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [n.lower().rstrip(".") for n in san.get_values_for_type(x509.DNSName)]


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


def file_stamp(files: Iterable[str]) -> tuple[tuple[int, int, int], ...]:
    """What changes when a file is replaced or rewritten (inode, size, mtime): cheap to poll."""
    out = []
    for path in files:
        try:
            st = os.stat(path)
        except OSError:
            out.append((0, 0, 0))
        else:
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


def build_table(tls: ListenerTls, problems: _Problems) -> SniTable | None:
    entries: list[tuple[list[str], ssl.SSLContext]] = []
    files: list[str] = []
    for i, cert in enumerate(tls.certificates):
        loc: Loc = ("tls", "certificates", i)
        files += (cert.cert, cert.key)
        ctx = server_context(tls)
        if not _load_pair(ctx, cert.cert, cert.key, loc, problems):
            continue
        leaf = _leaf(cert.cert, loc, problems)
        if leaf is None:
            continue
        names = cert.names if cert.names is not None else _san_names(leaf)
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
        self.context.load_cert_chain(default.cert, default.key, password=_no_passphrase)
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
        problems = _Problems(self.source)
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


class HandshakeFailures:
    """Counts failed handshakes by reason; logs at most one line per ``every`` seconds."""

    def __init__(self, every: float = LOG_EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self.clock = clock
        self.pending: collections.Counter[str] = collections.Counter()
        self.last_line = -every

    def record(self, exc: BaseException) -> None:
        reason = classify(exc)
        HANDSHAKE_FAILURES.labels(reason).inc()
        self.pending[reason] += 1
        now = self.clock()
        if now - self.last_line >= self.every:
            counts = ", ".join(f"{r}: {n}" for r, n in self.pending.most_common())
            log.warning(
                "TLS handshakes failed (%s) since the last report; the latest: %s",
                counts, _describe(exc),
            )  # fmt: skip
            self.pending.clear()
            self.last_line = now


FAILURES = HandshakeFailures()

_PLAINTEXT = frozenset({"HTTP_REQUEST", "HTTPS_PROXY_REQUEST"})
_NOT_TLS = frozenset({"WRONG_VERSION_NUMBER", "PACKET_LENGTH_TOO_LONG", "RECORD_LENGTH_MISMATCH"})
_VERSION = frozenset({"UNSUPPORTED_PROTOCOL", "VERSION_TOO_LOW", "TLSV1_ALERT_PROTOCOL_VERSION"})


def classify(exc: BaseException) -> str:
    """A short, bounded label (the metric's ``reason``) for why a handshake failed."""
    reason = getattr(exc, "reason", None) or ""
    if reason in _PLAINTEXT:
        return "plaintext"
    if reason in _NOT_TLS:
        return "not_tls"
    if reason in _VERSION:
        return "protocol_version"
    if reason == "NO_SHARED_CIPHER":
        return "no_shared_cipher"
    if reason.startswith(("TLSV1_ALERT_", "SSLV3_ALERT_")):
        return "client_alert"  # the client refused us: often our certificate (unknown CA, bad name)
    return "other"


def _describe(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason).lower().replace("_", " ") if reason else type(exc).__name__


_LoopHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


class _TlsErrorFilter:
    """A loop exception handler: TLS errors are counted (no traceback), the rest passed on."""

    def __init__(self, previous: _LoopHandler | None) -> None:
        self.previous = previous

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, ssl.SSLError):
            FAILURES.record(exc)
        elif self.previous is not None:
            self.previous(loop, context)
        else:
            loop.default_exception_handler(context)


def install_exception_filter(loop: asyncio.AbstractEventLoop) -> None:
    """asyncio and uvloop may report TLS errors through the loop's exception handler (with a
    traceback, in debug mode or on some paths): count them instead."""
    previous = loop.get_exception_handler()
    if not isinstance(previous, _TlsErrorFilter):
        loop.set_exception_handler(_TlsErrorFilter(previous))


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


# -- the redirect listener -----------------------------------------------------------------------
_DNS = re.compile(rb"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def redirect_host(raw: bytes) -> bytes | None:
    """The host of a Host header (lower-case, port dropped) if it is a DNS name or an IP literal."""
    raw = raw.lower()
    if raw.startswith(b"["):
        end = raw.find(b"]")
        host, rest = raw[: end + 1], raw[end + 1 :]
        try:
            ipaddress.IPv6Address(host[1:-1].decode("ascii"))
        except ValueError:
            return None
    else:
        host, sep, port = raw.partition(b":")
        rest = b":" + port if sep else b""
        if not _DNS.match(host):
            return None
    if rest and not (rest[1:].isdigit() and len(rest) <= 6):
        return None
    return host


class RedirectToHttps:
    """The plain-HTTP listener's application: a 308 to the same path and query on HTTPS, for hosts
    the certificates are for (a Host header naming anything else is refused, never echoed)."""

    def __init__(self, certificates: ListenerCertificates, https_port: int) -> None:
        self.certificates = certificates
        self.port = b"" if https_port == 443 else b":%d" % https_port

    def handle(self, head: RequestHead, responder: Responder) -> Decision:
        host = redirect_host(head.host or b"")
        if host is None:
            return ClientError(400, "a Host header naming this site is required")
        if not self._serves(host):
            return ClientError(421, "this gateway has no certificate for that host")
        target = head.target
        if target[:1] != b"/":  # absolute form (its host was checked against Host by framing)
            _scheme, sep, rest = target.partition(b"://")
            if not sep:
                return ClientError(400, "the request target must be a path")
            slash = min((i for i in (rest.find(b"/"), rest.find(b"?")) if i >= 0), default=len(rest))
            target = rest[slash:] or b"/"
            if target[:1] == b"?":
                target = b"/" + target
        return Answer(308, [(b"location", b"https://" + host + self.port + target)])

    def _serves(self, host: bytes) -> bool:
        name = host.decode("ascii")
        try:
            ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            return self.certificates.table.serves(name)
        return True  # an IP literal: clients send no SNI for it, and the default certificate answers


# -- upstreams -----------------------------------------------------------------------------------
def client_context(tls: UpstreamTls, loc: Loc, problems: _Problems) -> ssl.SSLContext | None:
    """The client context for an upstream's ``https://`` targets (verification on by default)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = VERSIONS[tls.min_version]
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    ctx.set_alpn_protocols(ALPN)
    if not tls.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif tls.ca_file is not None:
        try:
            ctx.load_verify_locations(cafile=tls.ca_file)
        except FileNotFoundError as exc:
            problems.add((*loc, "ca_file"), f"cannot read {tls.ca_file}: {exc.strerror or exc}")
            return None
        except (OSError, ssl.SSLError) as exc:
            problems.add((*loc, "ca_file"), f"{tls.ca_file} is not a PEM CA bundle ({exc})")
            return None
    else:
        ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if tls.cert is not None and tls.key is not None:
        if not _load_pair(ctx, tls.cert, tls.key, loc, problems):
            return None
        if _leaf(tls.cert, loc, problems) is None:
            return None
    return ctx


def upstream_contexts(config: GatewayConfig, problems: _Problems) -> dict[str, ssl.SSLContext]:
    out: dict[str, ssl.SSLContext] = {}
    for name, upstream in config.upstreams.items():
        if any(t.startswith("https://") for t in upstream.targets):
            ctx = client_context(upstream.tls, ("upstreams", name, "tls"), problems)
            if ctx is not None:
                out[name] = ctx
    return out


class TlsContexts:
    """What :func:`build_contexts` makes of a config: the listener's SNI table (``None`` for a
    plain listener) and a client context per upstream with ``https://`` targets."""

    def __init__(self, listener: SniTable | None, upstreams: dict[str, ssl.SSLContext]) -> None:
        self.listener = listener
        self.upstreams = upstreams


def build_contexts(config: GatewayConfig, source: str = "<config>") -> TlsContexts:
    """Every TLS context the config asks for, or a :class:`ConfigError` naming each bad file."""
    problems = _Problems(source)
    table = build_table(config.tls, problems) if config.tls is not None else None
    upstreams = upstream_contexts(config, problems)
    problems.raise_if_any()
    return TlsContexts(table, upstreams)

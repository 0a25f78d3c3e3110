"""The plain-HTTP redirect listener's application: a 308 to HTTPS for the hosts the certificates
are for."""

from __future__ import annotations

import ipaddress
import re

from portway.contract import Answer, Decision, RequestHead, Responder
from portway.errors import ClientError
from portway.server.tls.listener import ListenerCertificates

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

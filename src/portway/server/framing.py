"""Request framing checks the parser leaves to us, applied once the head is complete.

httptools (llhttp, strict mode) already refuses: Content-Length with Transfer-Encoding, duplicate or
non-numeric Content-Length, invalid or overflowing chunk sizes, obs-fold, bare LF, invalid header
names and values, lower-case or unknown methods. What remains, and is refused here before anything
is forwarded (400 unless said otherwise):
- a request line that is not exactly ``METHOD SP target SP HTTP/1.x CRLF`` (llhttp skips repeated
  spaces; the reader compares the line as sent with the one the parser read);
- a version other than HTTP/1.0 or 1.1 → 505 (HTTP/0.9, a line without a version → 400);
- ``*`` as the target of anything but OPTIONS;
- a Transfer-Encoding other than exactly ``chunked`` (llhttp accepts ``gzip, chunked``) → 501;
- Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1: faulty framing);
- HTTP/1.1 without exactly one Host header (RFC 9112 §3.2), and any Host that is not a reg-name
  (letters, digits, ``-._~``) or an IP literal, with an optional port of up to 5 digits;
- an ``Expect`` other than ``100-continue`` → 417; ``CONNECT`` (this is no forward proxy) → 405;
- an ``Upgrade`` request with a body (the parser does not read it).
``Upgrade: h2c`` (cleartext HTTP/2, a known way to smuggle requests past a proxy) is not refused,
since clients send it optimistically: the request is served as plain HTTP/1.1 and the upgrade is
never forwarded. Each refusal also closes the connection: what follows on it can no longer be trusted.
"""

from __future__ import annotations

import re

from portway.contract import RequestHead
from portway.errors import ClientError
from portway.server.request import accept_request_id, new_request_id

_HOST = re.compile(rb"^(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")


def check_framing(head: RequestHead) -> None:
    """Refuse what the parser let through (above); on the way, note the framing headers and the
    request id on ``head``."""
    if head.version not in ("1.1", "1.0"):
        if head.version.startswith("0."):
            raise ClientError(400, "malformed request line")
        raise ClientError(505, f"HTTP/{head.version} is not supported")
    if head.method == "CONNECT":
        raise ClientError(405, "CONNECT is not supported")
    if head.target == b"*" and head.method != "OPTIONS":
        raise ClientError(400, "'*' is only a target for OPTIONS")
    upgrading = head.upgrade  # what the parser does: it stops reading at the end of this head
    hosts = 0
    for name, value in head.headers:
        if name not in _FRAMING:  # most headers: one set look-up instead of six comparisons
            continue
        if name == b"host":
            hosts += 1
            head.host = value
        elif name == b"transfer-encoding":
            if head.version == "1.0":
                raise ClientError(400, "Transfer-Encoding is not allowed in HTTP/1.0")
            if value.strip().lower() != b"chunked":
                raise ClientError(501, "only the chunked transfer coding is supported")
            head.body_chunked = True
        elif name == b"content-length":
            head.content_length = int(value)  # llhttp has checked it is one plain number
        elif name == b"expect":
            if value.strip().lower() != b"100-continue":
                raise ClientError(417, "only 'Expect: 100-continue' is supported")
            head.expect_continue = head.version == "1.1"
        elif name == b"connection":
            if head.connection is None:
                head.connection = value  # forward/heads reads it; no second pass over the headers
        elif name == b"x-request-id" and not head.request_id:
            head.request_id = accept_request_id(value)  # collected here: one pass over the headers
        elif name == b"upgrade" and head.upgrade and b"h2c" in value.lower():
            head.upgrade = False  # served as HTTP/1.1; the Upgrade header is hop-by-hop, never sent on
    if not head.request_id:
        head.request_id = new_request_id()
    if hosts > 1 or (hosts == 0 and head.version == "1.1"):
        raise ClientError(400, "an HTTP/1.1 request needs exactly one Host header")
    host = head.host
    if host is not None and not _HOSTS[host]:
        raise ClientError(400, "the Host header is not a valid host[:port]")
    if upgrading and head.has_body:
        # httptools stops at an upgrade request's head, so its body would be read as the next
        # request here while the upstream waits for it: the two sides would disagree on framing.
        raise ClientError(400, "an Upgrade request cannot carry a body")


class _HostVerdicts(dict[bytes, bool]):
    """Is a Host value a reg-name (letters, digits, ``-._~``) or an IP literal, with an optional
    port ≤ 65535? Verdicts are cached, since clients send the same few Host values over and over;
    a dict subclass so that a hit is one subscript, with no Python call."""

    def __missing__(self, value: bytes) -> bool:
        verdict = bool(_HOST.match(value))
        if verdict and not value.endswith(b"]") and b":" in value:
            verdict = int(value.rpartition(b":")[2]) <= 65535
        if len(self) >= 4096:
            self.clear()
        self[value] = verdict
        return verdict


_HOSTS = _HostVerdicts()
_FRAMING = frozenset(
    {b"host", b"transfer-encoding", b"content-length", b"expect", b"connection", b"x-request-id", b"upgrade"}
)

"""Request framing checks the parser leaves to us, applied once the head is complete.

httptools (llhttp, strict mode) already refuses: Content-Length with Transfer-Encoding, duplicate or
non-numeric Content-Length, invalid or overflowing chunk sizes, obs-fold, bare LF, invalid header
names and values. What remains, and is refused here before anything is forwarded:
- a Transfer-Encoding other than exactly ``chunked`` (llhttp accepts ``gzip, chunked``) → 501;
- Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1: faulty framing) → 400;
- a version other than HTTP/1.0 or 1.1 → 505;
- HTTP/1.1 without exactly one Host header (RFC 9112 §3.2) → 400;
- an ``Expect`` other than ``100-continue`` → 417; ``CONNECT`` (this is no forward proxy) → 405;
- an ``Upgrade`` request with a body (the parser does not read it) → 400.
Each refusal also closes the connection, since what follows on it can no longer be trusted.
"""

from __future__ import annotations

from portway.server.request import RequestHead, accept_request_id, new_request_id


class Refusal(Exception):
    """The request cannot be served; ``status`` and ``detail`` become a problem+json response."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def check_framing(head: RequestHead) -> None:
    """Refuse what the parser let through (above); on the way, note the framing headers and the
    request id on ``head``."""
    if head.version not in ("1.1", "1.0"):
        raise Refusal(505, f"HTTP/{head.version} is not supported")
    if head.method == "CONNECT":
        raise Refusal(405, "CONNECT is not supported")
    hosts = 0
    for name, value in head.headers:
        if name == b"host":
            hosts += 1
            head.host = value
        elif name == b"transfer-encoding":
            if head.version == "1.0":
                raise Refusal(400, "Transfer-Encoding is not allowed in HTTP/1.0")
            if value.strip().lower() != b"chunked":
                raise Refusal(501, "only the chunked transfer coding is supported")
            head.body_chunked = True
        elif name == b"content-length":
            head.content_length = int(value)  # llhttp has checked it is one plain number
        elif name == b"expect":
            if value.strip().lower() != b"100-continue":
                raise Refusal(417, "only 'Expect: 100-continue' is supported")
            head.expect_continue = head.version == "1.1"
        elif name == b"x-request-id" and not head.request_id:
            head.request_id = accept_request_id(value)  # collected here: one pass over the headers
    if not head.request_id:
        head.request_id = new_request_id()
    if hosts > 1 or (hosts == 0 and head.version == "1.1"):
        raise Refusal(400, "an HTTP/1.1 request needs exactly one Host header")
    if head.upgrade and head.has_body:
        # httptools stops at an upgrade request's head, so its body would be read as the next
        # request here while the upstream waits for it: the two sides would disagree on framing.
        raise Refusal(400, "an Upgrade request cannot carry a body")

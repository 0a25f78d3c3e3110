"""Pure head builders: the client's request head → the upstream's, the upstream's response head →
the client's. Bytes in, bytes out; no sockets, no state (tested that way: tests/unit/forward/).

Request (to the upstream):
- request line from the routed (normalised, rewritten) path and the raw query; ``HTTP/1.1``;
- ``Host``: the target's, or the client's with ``preserve_host``;
- every client header except those the gateway owns (:class:`~portway.forward.rules.ForwardingRules`)
  and those the client's own ``Connection`` names;
- ``X-Forwarded-For`` (appended to a trusted proxy's), ``-Proto`` (the listener's scheme, from the
  rules), ``-Host``, ``X-Request-Id``; a trusted proxy's ``X-Forwarded-Host``, ``-Port`` and
  ``-Prefix`` are passed on, anyone else's dropped;
- the policies' headers (identity), then framing: ``Connection: upgrade`` for an upgrade,
  ``Transfer-Encoding: chunked`` or ``Content-Length`` as the client framed its body (chunked, and
  no ``Content-Encoding``, for a body a request filter decodes on its way).

Response (to the client):
- hop-by-hop headers and those the upstream's ``Connection`` names are dropped, and the upstream's
  ``X-Request-Id`` (the client gets the gateway's); ``always`` headers are added (HSTS);
- a body of unknown length is re-chunked for HTTP/1.1 clients and close-delimited for 1.0;
- ``Connection: close`` when the client connection will not be kept.
"""

from __future__ import annotations

from portway.contract import RequestHead
from portway.forward.rules import ForwardingRules
from portway.headers import HOP_BY_HOP, connection_tokens
from portway.server.problem import reason as default_reason

_NO_BODY_STATUS = frozenset({204, 304})
_CONNECTION_OPTIONS = frozenset({b"close", b"keep-alive"})
# What a trusted proxy in front of us saw of the original request; from anyone else, dropped.
_RELAYED = frozenset({b"x-forwarded-host", b"x-forwarded-port", b"x-forwarded-prefix"})
_DECODED = frozenset({b"content-encoding"})  # dropped from a request whose body is sent decoded


def request_head(
    head: RequestHead,
    target: bytes,
    host: bytes,
    rules: ForwardingRules,
    extra: list[tuple[bytes, bytes]],
    decoded: bool = False,
) -> bytes:
    """The request head sent upstream for ``head``, to ``target`` (path and query) on ``host``;
    ``decoded``: a request filter decodes the body on its way (its coding and length are gone)."""
    parts = [head.method.encode(), b" ", target, b" HTTP/1.1\r\nhost: ", host, b"\r\n"]
    named = connection_tokens(head.headers, lower=True) if head.connection is not None else frozenset()
    if decoded:
        named |= _DECODED
    dropped = rules.dropped  # a dict look-up per header once names repeat
    client_xff = None
    client_proto = None
    relayed: dict[bytes, bytes] | None = None  # X-Forwarded-Host/-Port/-Prefix, if a proxy vouches
    for name, value in head.headers:
        if dropped[name] or name in named:
            if name == b"x-forwarded-for":
                client_xff = value if client_xff is None else client_xff + b", " + value
            elif name == b"x-forwarded-proto":
                client_proto = value
            elif name in _RELAYED:
                relayed = relayed or {}
                relayed.setdefault(name, value)
            continue
        parts += (name, b": ", value, b"\r\n")
    ip = head.client_ip.encode()
    trusted = (client_xff is not None or relayed is not None) and rules.is_trusted(head.client_ip)
    if trusted and client_xff is not None:
        xff = client_xff + b", " + ip
        proto = client_proto if client_proto in (b"http", b"https") else rules.proto
    else:
        xff, proto = ip, rules.proto
    parts += (b"x-forwarded-for: ", xff, b"\r\nx-forwarded-proto: ", proto, b"\r\n")
    if trusted and relayed is not None:
        for name, value in relayed.items():
            parts += (name, b": ", value, b"\r\n")
    if head.host and not (trusted and relayed is not None and b"x-forwarded-host" in relayed):
        parts += (b"x-forwarded-host: ", head.host, b"\r\n")
    parts += (b"x-request-id: ", head.request_id.encode(), b"\r\n")
    if extra:
        for name, value in extra:
            parts += (name, b": ", value, b"\r\n")
    if head.upgrade:
        parts += (b"connection: upgrade\r\nupgrade: ", head.header(b"upgrade") or b"", b"\r\n")
    if head.body_chunked or decoded:
        parts.append(b"transfer-encoding: chunked\r\n")
    elif head.content_length is not None:
        parts += (b"content-length: ", str(head.content_length).encode(), b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


def response_head(
    status: int,
    reason: bytes,
    headers: list[tuple[bytes, bytes]],
    head: RequestHead,
    extra: list[tuple[bytes, bytes]],
    keep_alive: bool,
    always: tuple[tuple[bytes, bytes], ...] = (),
) -> tuple[bytes, bool, bool]:
    """The client's response head for an upstream response; returns ``(head, chunk_out, keep)``:
    whether the body must be re-chunked, and whether the client connection can be kept."""
    parts = [b"HTTP/1.1 %d %b\r\n" % (status, reason or default_reason(status))]
    content_length = None
    chunked = False
    upgrade = b""
    named: frozenset[bytes] = frozenset()
    for name, value in headers:
        lname = name.lower()
        if lname == b"content-length":
            content_length = value  # kept as sent: llhttp has checked it
        elif lname in HOP_BY_HOP or lname == b"x-request-id":
            if lname == b"transfer-encoding":
                chunked = True
            elif lname == b"upgrade":
                upgrade = value
            elif lname == b"connection" and value.lower() not in _CONNECTION_OPTIONS:
                named = connection_tokens(headers, lower=False) - _CONNECTION_OPTIONS
            continue
        parts += (name, b": ", value, b"\r\n")
    if named:  # rare: the upstream named its own hop-by-hop headers; drop them too
        parts = [parts[0], *_without(parts[1:], named)]
    parts += (b"x-request-id: ", head.request_id.encode(), b"\r\n")
    if extra:
        for name, value in extra:
            parts += (name, b": ", value, b"\r\n")
    if always:
        for name, value in always:
            parts += (name, b": ", value, b"\r\n")
    if status == 101:
        parts += (b"connection: upgrade\r\nupgrade: ", upgrade, b"\r\n\r\n")
        return b"".join(parts), False, True
    chunk_out = False
    if head.method == "HEAD" or status in _NO_BODY_STATUS:
        # RFC 9112 §6.1: a HEAD or 304 response may say how the body would have been framed; a
        # 204 must not carry Transfer-Encoding at all.
        if chunked and content_length is None and status != 204:
            parts.append(b"transfer-encoding: chunked\r\n")
    elif content_length is None:
        # Chunked or close-delimited upstream body: re-chunk for HTTP/1.1, close-delimit for 1.0.
        if head.version == "1.1":
            chunk_out = True
            parts.append(b"transfer-encoding: chunked\r\n")
        else:
            keep_alive = False
    parts.append(b"\r\n" if keep_alive else b"connection: close\r\n\r\n")
    return b"".join(parts), chunk_out, keep_alive


def _without(parts: list[bytes], names: frozenset[bytes]) -> list[bytes]:
    """Header lines (as 4-part groups: name, ': ', value, CRLF) minus those whose name is listed."""
    out: list[bytes] = []
    for i in range(0, len(parts), 4):
        if parts[i].lower() not in names:
            out += parts[i : i + 4]
    return out

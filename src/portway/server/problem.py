"""Every response the gateway makes itself: RFC 9457 ``application/problem+json`` with the request id.

This is the one place gateway faults and refusals (:class:`portway.errors.GatewayError`) and the
gateway's own answers (:class:`portway.contract.Answer`) become bytes.
"""

from __future__ import annotations

import json
from http import HTTPStatus

from portway.contract import Answer

_REASONS = {s.value: s.phrase for s in HTTPStatus}


def reason(status: int) -> bytes:
    return _REASONS.get(status, "Unknown").encode()


def status_line(status: int) -> bytes:
    return b"HTTP/1.1 %d %s\r\n" % (status, reason(status))


def problem_body(status: int, detail: str | None, request_id: str | None, **extra: object) -> bytes:
    doc: dict[str, object] = {"type": "about:blank", "title": _REASONS.get(status, "Error"), "status": status}
    if detail:
        doc["detail"] = detail
    if request_id:
        doc["request_id"] = request_id
    doc.update(extra)
    return json.dumps(doc, separators=(",", ":")).encode()


def problem_response(
    status: int,
    detail: str | None,
    request_id: str | None,
    *,
    close: bool = False,
    head_only: bool = False,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> bytes:
    body = problem_body(status, detail, request_id)
    lines = [
        status_line(status),
        b"content-type: application/problem+json\r\n",
        b"content-length: %d\r\n" % len(body),
        b"cache-control: no-store\r\n",
    ]
    if request_id:
        lines.append(b"x-request-id: " + request_id.encode() + b"\r\n")
    for name, value in headers or ():
        lines.append(name + b": " + value + b"\r\n")
    if close:
        lines.append(b"connection: close\r\n")
    lines.append(b"\r\n")
    if not head_only:
        lines.append(body)
    return b"".join(lines)


def render_answer(answer: Answer, request_id: str, *, close: bool, head_only: bool) -> bytes:
    """An :class:`~portway.contract.Answer` as a whole response."""
    lines = [status_line(answer.status), b"x-request-id: ", request_id.encode(), b"\r\n"]
    for name, value in answer.headers:
        lines += (name, b": ", value, b"\r\n")
    if answer.content_type is not None:
        lines += (b"content-type: ", answer.content_type, b"\r\n")
    if answer.status != 204 and not 100 <= answer.status < 200 and answer.status != 304:
        lines.append(b"content-length: %d\r\n" % len(answer.body))
    lines.append(b"connection: close\r\n\r\n" if close else b"\r\n")
    if not head_only:
        lines.append(answer.body)
    return b"".join(lines)

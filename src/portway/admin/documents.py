"""The admin API's response bodies: JSON documents and problem+json with extension members, both
``Cache-Control: no-store`` (admin state is live: a cached copy is a wrong one)."""

from __future__ import annotations

import json

from portway.contract import Answer
from portway.server.problem import problem_body

JSON = b"application/json"
PROBLEM = b"application/problem+json"
PROMETHEUS = b"text/plain; version=0.0.4; charset=utf-8"
NO_STORE = (b"cache-control", b"no-store")


def json_answer(doc: object, status: int = 200) -> Answer:
    return Answer(status, [NO_STORE], json.dumps(doc, separators=(",", ":")).encode(), JSON)


def problem_answer(status: int, detail: str, request_id: str, **extra: object) -> Answer:
    """A problem with members beyond RFC 9457's (a reload's ``errors``), which ClientError has not."""
    return Answer(status, [NO_STORE], problem_body(status, detail, request_id, **extra), PROBLEM)


def text_answer(body: bytes, content_type: bytes) -> Answer:
    return Answer(200, [NO_STORE], body, content_type)

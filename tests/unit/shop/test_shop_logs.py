"""JSON log lines: one object per line, with the request's correlation and any extra fields."""

from __future__ import annotations

import json
import logging
import sys

from shop.common import context
from shop.common.logs import JsonFormatter


def record(message: str, **extra: object) -> logging.LogRecord:
    return logging.makeLogRecord({"name": "shop.test", "levelname": "INFO", "msg": message, **extra})


def test_a_line_carries_the_request_id_and_trace_of_the_current_request() -> None:
    correlation = context.correlation_from(
        "req-42", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    )
    token = context.bind(correlation)
    try:
        line = json.loads(JsonFormatter("orders").format(record("placed %s", args=("o-1",), status=202)))
    finally:
        context.unbind(token)
    assert line["msg"] == "placed o-1" and line["service"] == "orders" and line["level"] == "info"
    assert line["request_id"] == "req-42" and line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert line["span_id"] == correlation.span_id and line["status"] == 202


def test_outside_a_request_there_is_no_correlation() -> None:
    line = json.loads(JsonFormatter("orders").format(record("relay started")))
    assert "request_id" not in line and "trace_id" not in line


def test_an_exception_is_kept_in_one_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        text = JsonFormatter("orders").format(record("failed", exc_info=sys.exc_info()))
    assert "\n" not in text and "RuntimeError: boom" in json.loads(text)["exc"]

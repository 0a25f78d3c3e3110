"""Request ids and W3C trace context: continued when valid, replaced when not."""

from __future__ import annotations

import pytest

from shop.common.context import correlation_from

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def test_a_valid_traceparent_keeps_its_trace_and_gets_a_new_span() -> None:
    correlation = correlation_from("req-1", f"00-{TRACE}-{PARENT}-01")
    assert correlation.request_id == "req-1"
    assert correlation.trace_id == TRACE and correlation.span_id != PARENT
    assert correlation.traceparent == f"00-{TRACE}-{correlation.span_id}-01"


@pytest.mark.parametrize(
    "traceparent",
    [
        None,
        "",
        "garbage",
        f"01-{TRACE}-{PARENT}-01",
        f"00-{'0' * 32}-{PARENT}-01",
        f"00-{TRACE}-{'0' * 16}-01",
    ],
)
def test_an_invalid_traceparent_starts_a_new_trace(traceparent: str | None) -> None:
    correlation = correlation_from("req-1", traceparent)
    assert len(correlation.trace_id) == 32 and correlation.trace_id not in {TRACE, "0" * 32}


@pytest.mark.parametrize("request_id", [None, "", "has space", "x" * 201, "new\nline"])
def test_an_unusable_request_id_is_replaced(request_id: str | None) -> None:
    assert len(correlation_from(request_id, None).request_id) == 32

"""W3C trace context parsing: bytes in, a context (or None) out; nothing raises on client input."""

from __future__ import annotations

import pytest

from portway.tracing.context import (
    MAX_TRACESTATE,
    extract,
    new_span_id,
    new_trace_id,
    parse_traceparent,
    traceparent,
    valid_tracestate,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def test_a_valid_traceparent_is_read() -> None:
    context = parse_traceparent(f"00-{TRACE}-{SPAN}-01".encode())
    assert context is not None
    assert (context.trace_id, context.span_id, context.sampled) == (int(TRACE, 16), int(SPAN, 16), True)
    unsampled = parse_traceparent(f"00-{TRACE}-{SPAN}-00".encode())
    assert unsampled is not None and not unsampled.sampled


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"00",
        f"00-{TRACE}-{SPAN}".encode(),
        f"00-{TRACE.upper()}-{SPAN}-01".encode(),
        f"00-{TRACE}-{SPAN.upper()}-01".encode(),
        f"00-{'0' * 32}-{SPAN}-01".encode(),
        f"00-{TRACE}-{'0' * 16}-01".encode(),
        f"ff-{TRACE}-{SPAN}-01".encode(),
        f"0g-{TRACE}-{SPAN}-01".encode(),
        f"00-{TRACE}-{SPAN}-01-".encode(),
        f"00-{TRACE}-{SPAN}-01x".encode(),
        f"01-{TRACE}-{SPAN}-01x".encode(),  # a later version still needs '-' after the flags
        f"00_{TRACE}_{SPAN}_01".encode(),
        f"00-{TRACE[:-1]}-{SPAN}0-01".encode(),
        f"00-{TRACE}-{SPAN}-zz".encode(),
        "00-" + "é" * 30,
        b"\xff" * 55,
    ],
)
def test_invalid_traceparents_are_none(value: bytes | str) -> None:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    assert parse_traceparent(raw) is None


def test_a_later_version_keeps_its_first_four_fields_and_only_the_sampled_flag() -> None:
    context = parse_traceparent(f"7f-{TRACE}-{SPAN}-ff-more-fields".encode())
    assert context is not None and context.trace_id == int(TRACE, 16) and context.flags == 1


def test_surrounding_blanks_are_ignored() -> None:
    assert parse_traceparent(f" 00-{TRACE}-{SPAN}-01\t".encode()) is not None


def test_tracestate_rules() -> None:
    assert valid_tracestate(b"congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
    assert valid_tracestate(b"a=1, b=2")
    assert not valid_tracestate(b"no-equals-sign")
    assert not valid_tracestate(b"a=1\x01")
    assert not valid_tracestate(b"a=" + b"x" * MAX_TRACESTATE)
    assert not valid_tracestate(b",".join(b"k%d=v" % i for i in range(33)))
    assert valid_tracestate(b",".join(b"k%d=v" % i for i in range(32)))


def test_extract_joins_tracestate_headers_and_refuses_two_traceparents() -> None:
    tp = f"00-{TRACE}-{SPAN}-01".encode()
    context = extract([(b"traceparent", tp), (b"tracestate", b"a=1"), (b"tracestate", b"b=2")])
    assert context is not None and context.tracestate == b"a=1,b=2"
    assert extract([(b"traceparent", tp), (b"traceparent", tp)]) is None
    assert extract([(b"tracestate", b"a=1")]) is None
    bad_state = extract([(b"traceparent", tp), (b"tracestate", b"\x00")])
    assert bad_state is not None and bad_state.tracestate == b""


def test_traceparent_round_trips_and_ids_are_never_zero() -> None:
    trace_id, span_id = new_trace_id(), new_span_id()
    assert 0 < trace_id < 2**128 and 0 < span_id < 2**64
    value = traceparent(trace_id, span_id, True)
    context = parse_traceparent(value)
    assert context is not None
    assert (context.trace_id, context.span_id, context.sampled) == (trace_id, span_id, True)
    assert traceparent(1, 2, False) == b"00-" + b"0" * 31 + b"1-" + b"0" * 15 + b"2-00"

"""A single byte range served from a stored complete response (RFC 9110 §14): ``bytes=a-b``,
``bytes=a-`` and ``bytes=-n``. Anything else (several ranges, another unit, a syntax error) is
ignored and the whole response served, which §14.2 allows; a range past the end is a 416."""

from __future__ import annotations

UNSATISFIABLE = (-1, -1)


def single_range(value: bytes, length: int) -> tuple[int, int] | None:
    """``(first, last)`` inclusive, :data:`UNSATISFIABLE`, or ``None``: serve the whole body."""
    unit, _, spec = value.strip().partition(b"=")
    if unit.strip().lower() != b"bytes" or b"," in spec:
        return None
    start, dash, end = spec.strip().partition(b"-")
    if not dash:
        return None
    start, end = start.strip(), end.strip()
    if not start:  # a suffix: the last n bytes
        if not end.isdigit() or int(end) == 0:
            return None if not end.isdigit() else UNSATISFIABLE
        return max(0, length - int(end)), length - 1
    if not start.isdigit() or (end and not end.isdigit()):
        return None
    first = int(start)
    last = min(int(end), length - 1) if end else length - 1
    if end and int(end) < first:
        return None
    if first >= length:
        return UNSATISFIABLE
    return first, last

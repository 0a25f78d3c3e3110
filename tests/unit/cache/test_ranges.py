"""Single byte ranges served from stored responses (RFC 9110 §14)."""

from __future__ import annotations

from portway.cache.ranges import UNSATISFIABLE, single_range


def test_single_byte_ranges() -> None:
    assert single_range(b"bytes=0-4", 10) == (0, 4)
    assert single_range(b"bytes=5-", 10) == (5, 9)
    assert single_range(b"bytes=-3", 10) == (7, 9)
    assert single_range(b"bytes=8-100", 10) == (8, 9)
    assert single_range(b"bytes=10-", 10) == UNSATISFIABLE
    assert single_range(b"bytes=0-1,3-4", 10) is None  # several: the whole body
    assert single_range(b"items=0-1", 10) is None
    assert single_range(b"bytes=4-2", 10) is None

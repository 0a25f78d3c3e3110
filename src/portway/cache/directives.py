"""``Cache-Control`` parsed (RFC 9111 §5.2): every value of the header, in order, into one mapping.

Rules:
- Directive names are case-insensitive tokens; values are tokens or quoted strings (unquoted here).
- A directive given twice keeps its first value: RFC 9111 §4.2.1 lets a cache treat conflicting
  freshness as stale, but the test suite and every cache we compare with read the first one.
- Anything unparsable is skipped, not fatal: a response with a broken directive is still relayed.
  That includes whitespace around ``=`` (``max-age = 60``), which the grammar does not allow
  (``token [ "=" ( token / quoted-string ) ]``).
"""

from __future__ import annotations

from collections.abc import Iterable

Directives = dict[bytes, bytes | None]
EMPTY: Directives = {}


def parse(values: Iterable[bytes]) -> Directives:
    """All ``Cache-Control`` values of a message (already selected by name) as one mapping."""
    found: Directives = {}
    for value in values:
        for name, arg in _items(value):
            if name and name not in found:
                found[name] = arg
    return found


def _items(value: bytes) -> Iterable[tuple[bytes, bytes | None]]:
    i, n = 0, len(value)
    while i < n:
        comma = value.find(b",", i)
        eq = value.find(b"=", i)
        if eq == -1 or (comma != -1 and comma < eq):
            end = n if comma == -1 else comma
            yield value[i:end].strip().lower(), None
            i = end + 1
            continue
        name = value[i:eq].lstrip().lower()
        j = eq + 1
        if name != name.rstrip() or value[j : j + 1] in (b" ", b"\t"):
            name = b""  # whitespace around '=': not a directive (skipped below)
        if j < n and value[j : j + 1] == b'"':
            close = j + 1
            chars = bytearray()
            while close < n and value[close : close + 1] != b'"':
                if value[close : close + 1] == b"\\" and close + 1 < n:
                    close += 1
                chars += value[close : close + 1]
                close += 1
            yield name, bytes(chars)
            comma = value.find(b",", close)
            i = n if comma == -1 else comma + 1
        else:
            end = n if comma == -1 else comma
            yield name, value[j:end].strip()
            i = end + 1


def seconds(directives: Directives, name: bytes) -> int | None:
    """A delta-seconds argument (``max-age=60``); ``None`` when absent or not a number. A value past
    2^31 is capped there (RFC 9111 §1.2.2)."""
    arg = directives.get(name)
    if arg is None or not arg.isdigit():
        return None
    return min(int(arg), 2**31)

"""RFC 9111 §4.2 freshness and age, and §5.2 directive parsing: data in, seconds out."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from portway.cache import freshness
from portway.cache.directives import parse, seconds
from portway.cache.entry import Entry

NOW = 1_700_000_000.0


def date(at: float) -> bytes:
    return formatdate(at, usegmt=True).encode()


def lifetime(
    status: int = 200, cc: bytes = b"", expires: bytes | None = None, modified: float | None = None
) -> float:
    return freshness.lifetime(
        status, parse([cc]), NOW, expires, date(modified) if modified is not None else None, 86400.0
    )


def test_directives_are_case_insensitive_first_wins_and_quotes_are_undone() -> None:
    cc = parse([b'Max-Age=60, max-age=5, private="Set-Cookie, X-A"', b"no-store"])
    assert cc == {b"max-age": b"60", b"private": b"Set-Cookie, X-A", b"no-store": None}
    assert seconds(parse([b'max-age="30"']), b"max-age") == 30
    assert seconds(parse([b"max-age=-1"]), b"max-age") is None
    assert seconds(parse([b"max-age=99999999999"]), b"max-age") == 2**31


def test_s_maxage_beats_max_age_beats_expires() -> None:
    assert lifetime(cc=b"max-age=60, s-maxage=10", expires=date(NOW + 500)) == 10
    assert lifetime(cc=b"max-age=60", expires=date(NOW + 500)) == 60
    assert lifetime(expires=date(NOW + 500)) == 500


def test_an_invalid_or_past_expires_means_stale() -> None:
    assert lifetime(expires=b"0") == 0
    assert lifetime(expires=b"yesterday") == 0
    assert lifetime(expires=date(NOW - 60)) == 0


def test_heuristics_only_for_heuristic_statuses_or_public() -> None:
    assert lifetime(modified=NOW - 1000) == pytest.approx(100)
    assert lifetime(status=302, modified=NOW - 1000) == 0
    assert lifetime(status=302, cc=b"public", modified=NOW - 1000) == pytest.approx(100)
    assert lifetime(modified=NOW - 10**9) == 86400  # capped
    assert lifetime() == 0  # no Last-Modified: nothing to guess from


def test_the_corrected_initial_age() -> None:
    # apparent age (response_time - Date) against Age + response delay: the larger one
    assert freshness.initial_age([], NOW - 30, NOW - 2, NOW) == 30
    assert freshness.initial_age([b"100"], NOW, NOW - 2, NOW) == 102
    assert freshness.initial_age([b"0,7200"], None, NOW, NOW) == 0  # a list: its first member
    assert freshness.initial_age([b"7200", b"0"], None, NOW, NOW) == 7200
    for unreadable in ([b"junk"], [b"-5"], [b"1.5"], [b"10;a=1"]):
        assert freshness.initial_age(unreadable, None, NOW, NOW) == 2**31, unreadable


def test_an_entry_ages_while_stored_and_serialises_whole() -> None:
    entry = Entry(
        200,
        [
            (b"cache-control", b"max-age=60, stale-while-revalidate=30"),
            (b"date", date(NOW)),
            (b"etag", b'"a"'),
        ],
        b"body",
        NOW,
        NOW,
        ((b"accept-language", b"fr"),),
    )
    assert (entry.lifetime, entry.age(NOW + 45)) == (60, 45)
    assert entry.window(b"stale-while-revalidate") == 30
    assert not entry.must_revalidate
    again = Entry.from_bytes(entry.to_bytes())
    assert (again.headers, again.body, again.vary, again.etag) == (entry.headers, b"body", entry.vary, b'"a"')
    assert again.lifetime == 60

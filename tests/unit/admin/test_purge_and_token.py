"""The purge selector and the bearer-token check: data in, decision out."""

from __future__ import annotations

import pytest

from portway.admin.auth import BearerToken
from portway.admin.purge import Purge, parse_purge
from portway.contract import RequestHead
from portway.errors import ClientError

TOKEN = "s3cret-token-" + "z" * 20


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"key": "GET /a"}', Purge(key="GET /a")),
        (b'{"prefix": "GET /api/"}', Purge(prefix="GET /api/")),
        (b"not json", 400),
        (b"{}", 422),
        (b'{"key": "a", "prefix": "b"}', 422),
        (b'{"prefix": ""}', 422),
        (b'{"key": 3}', 422),
        (b'{"keys": "a"}', 422),
        (b'["key"]', 422),
    ],
)
def test_purge_selectors(body: bytes, expected: Purge | int) -> None:
    parsed = parse_purge(body)
    if isinstance(expected, int):
        assert isinstance(parsed, ClientError) and parsed.status == expected
    else:
        assert parsed == expected


def head(authorization: bytes | None) -> RequestHead:
    headers = [(b"authorization", authorization)] if authorization is not None else []
    return RequestHead("GET", b"/status", "1.1", headers, True, False, "127.0.0.1", 1, 0.0)


@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [
        (None, b'Bearer realm="portway-admin"'),
        (b"Basic " + TOKEN.encode(), b'Bearer realm="portway-admin"'),
        (b"Bearer wrong", b'Bearer realm="portway-admin", error="invalid_token"'),
        (b"Bearer " + TOKEN.encode() + b"x", b'Bearer realm="portway-admin", error="invalid_token"'),
        (b"Bearer " + TOKEN[:-1].encode(), b'Bearer realm="portway-admin", error="invalid_token"'),
    ],
)
def test_a_missing_or_wrong_token_is_a_401_with_a_challenge(
    authorization: bytes | None, challenge: bytes
) -> None:
    refusal = BearerToken(TOKEN).refusal(head(authorization))
    assert refusal is not None and refusal.status == 401
    assert refusal.headers == [(b"www-authenticate", challenge)]


@pytest.mark.parametrize("authorization", [b"Bearer " + TOKEN.encode(), b"bearer  " + TOKEN.encode() + b" "])
def test_the_token_passes(authorization: bytes) -> None:
    assert BearerToken(TOKEN).refusal(head(authorization)) is None


def test_the_token_is_not_in_the_repr() -> None:
    assert TOKEN not in repr(BearerToken(TOKEN))

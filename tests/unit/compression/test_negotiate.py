"""Accept-Encoding negotiation (RFC 9110 §12.5.3): data in, the chosen coding out."""

from __future__ import annotations

import pytest

from portway.compression.negotiate import choose, weights

PREFERENCE = (b"zstd", b"br", b"gzip")


@pytest.mark.parametrize(
    ("field", "chosen"),
    [
        (None, None),  # no field: nothing the client said it can decode
        (b"", None),  # empty: identity only
        (b"gzip", b"gzip"),
        (b"GZip", b"gzip"),  # names are case-insensitive
        (b"x-gzip", b"gzip"),  # §8.4.1.3
        (b"gzip, deflate, br, zstd", b"zstd"),  # equal weights: the server's order
        (b"gzip, deflate, br", b"br"),
        (b"deflate", None),  # nothing we offer
        (b"br;q=0.5, gzip;q=0.8", b"gzip"),  # the heavier weight beats the server's order
        (b"br;q=0.8, gzip;q=0.8, zstd;q=0.1", b"br"),
        (b"zstd;q=0, br;q=0, gzip", b"gzip"),  # q=0 refuses
        (b"*", b"zstd"),
        (b"*;q=0", None),  # everything refused, identity too: identity all the same
        (b"zstd;q=0, *;q=0.1", b"br"),  # * weighs what is not named
        (b"gzip;q=0.2, *", b"zstd"),
        (b"identity;q=1, gzip;q=0.5", None),  # identity listed heavier: no coding
        (b"identity;q=0.5, gzip;q=0.5", b"gzip"),  # a tie goes to compressing
        (b"identity;q=0, gzip;q=0.001", b"gzip"),
        (b"gzip;q=1.5", None),  # not a qvalue: the member is ignored
        (b"gzip;q=0.1234", None),  # more than three decimals: not a qvalue
        (b"gzip;q=abc, br", b"br"),
        (b"gzip ; q=0.7 , br ; q = 0.6", b"gzip"),  # whitespace around the parameter
        (b" , ,gzip,", b"gzip"),  # empty list members are allowed (RFC 9110 §5.6.1)
        (b"gzip;level=9", b"gzip"),  # other parameters are ignored
        (b"gzip;q=0, gzip;q=1", b"gzip"),  # listed twice: the kinder reading
    ],
)
def test_choose(field: bytes | None, chosen: bytes | None) -> None:
    assert choose(field, PREFERENCE) == chosen


def test_the_server_order_is_configurable() -> None:
    assert choose(b"gzip, br, zstd", (b"gzip", b"br")) == b"gzip"
    assert choose(b"zstd", (b"gzip", b"br")) is None  # not offered on this route


def test_weights() -> None:
    assert weights(b"gzip;q=0.5, BR, *;q=0") == {b"gzip": 0.5, b"br": 1.0, b"*": 0.0}
    assert weights(b"q=1") == {b"q=1": 1.0}  # a token, however odd; it matches nothing offered

"""Path normalisation before routing (RFC 3986 §6.2.2, §5.2.4), and request-target splitting."""

from __future__ import annotations

import pytest

from portway.routing import BadTarget, normalize_path, split_target


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        (b"/", "/"),
        (b"/api/users", "/api/users"),
        (b"/api/public/../admin", "/api/admin"),
        (b"/api/public/%2e%2e/admin", "/api/admin"),
        (b"/api/public/%2E%2e/admin", "/api/admin"),
        (b"/api/public/.%2E/admin/", "/api/admin/"),
        (b"/api//admin", "/api/admin"),
        (b"//api///admin//", "/api/admin/"),
        (b"/api/./admin/.", "/api/admin/"),
        (b"/../../etc/passwd", "/etc/passwd"),
        (b"/a/b/..", "/a/"),
        (b"/a/..", "/"),
        (b"/..", "/"),
        (b"/a/...", "/a/..."),  # three dots is a name
        (b"/a/..b/c", "/a/..b/c"),
        (b"/%61%62%63", "/abc"),
        (b"/%7e%7E%2d%2D%5f%2e", "/~~--_."),
        (b"/a%3fb%2a%20", "/a%3Fb%2A%20"),  # reserved and other escapes kept, hex upper-cased
        (b"/caf\xc3\xa9", "/caf%C3%A9"),  # raw non-ASCII becomes percent-encoded
        (b"/Case/Kept", "/Case/Kept"),
    ],
)
def test_normalize(raw: bytes, normal: str) -> None:
    assert normalize_path(raw) == normal


@pytest.mark.parametrize(
    "raw",
    [
        b"/a%2Fb",
        b"/a%2fb",
        b"/a%5Cb",
        b"/a%5cb",
        b"/a%00",
        b"/a\x00b",
        b"/a b",
        b"/a\tb",
        b"/a\x7f",
        b"/%zz",
        b"/%2",
        b"/%",
    ],
)
def test_refused(raw: bytes) -> None:
    with pytest.raises(BadTarget):
        normalize_path(raw)


def test_encoded_slash_can_be_allowed_but_nul_never() -> None:
    assert normalize_path(b"/a%2fb", allow_encoded_slash=True) == "/a%2Fb"
    with pytest.raises(BadTarget):
        normalize_path(b"/a%00b", allow_encoded_slash=True)


def test_normalisation_is_idempotent() -> None:
    for raw in (b"/a/./b/../c//d/", b"/%2e%2e/x", b"/a%3fb"):
        once = normalize_path(raw)
        assert normalize_path(once.encode()) == once


@pytest.mark.parametrize(
    ("target", "path", "query"),
    [
        (b"/a?x=1&y=2", b"/a", b"x=1&y=2"),
        (b"/a", b"/a", b""),
        (b"/a?", b"/a", b""),
        (b"/a?q=/../b", b"/a", b"q=/../b"),
        (b"/a#frag", b"/a", b""),
        (b"http://host:8080/p?q", b"/p", b"q"),
        (b"HTTPS://host", b"/", b""),
    ],
)
def test_split_target(target: bytes, path: bytes, query: bytes) -> None:
    assert split_target(target) == (path, query)


@pytest.mark.parametrize("target", [b"*", b"a/b", b"ftp://x/y", b""])
def test_split_target_refuses_other_forms(target: bytes) -> None:
    with pytest.raises(BadTarget):
        split_target(target)


@pytest.mark.parametrize("raw", [b"/api/admin;jsessionid=x", b"/api/admin;/x", b"/api/a\\..\\admin"])
def test_semicolon_and_backslash_are_refused_by_default(raw: bytes) -> None:
    with pytest.raises(BadTarget):
        normalize_path(raw)


def test_semicolon_allowed_when_configured() -> None:
    assert normalize_path(b"/a;v=1/b", allow_semicolon=True) == "/a;v=1/b"


# -- encoded bytes a back end may decode (rules 3, 5, 6) -------------------------------------------

ENCODED_CONTROLS = [f"%{code:02X}" for code in [*range(0x20), 0x7F]]


@pytest.mark.parametrize(
    "escape", [*ENCODED_CONTROLS, *(e.lower() for e in ENCODED_CONTROLS if e != e.lower())]
)
def test_encoded_control_bytes_are_always_refused(escape: str) -> None:
    everything = {
        "allow_encoded_slash": True,
        "allow_semicolon": True,
        "allow_encoded_backslash": True,
        "allow_encoded_semicolon": True,
    }
    for raw in (f"/a{escape}b", f"/{escape}", f"/a/{escape}/../b", f"/a%2e{escape}"):
        with pytest.raises(BadTarget, match="control"):
            normalize_path(raw.encode())
        with pytest.raises(BadTarget, match="control"):
            normalize_path(raw.encode(), **everything)


DELIMITERS = {
    "%2F": "allow_encoded_slash",
    "%5C": "allow_encoded_backslash",
    "%3B": "allow_encoded_semicolon",
}


@pytest.mark.parametrize("escape", DELIMITERS)
@pytest.mark.parametrize("spelling", [str.upper, str.lower, lambda e: e[:2] + e[2].lower()])
def test_encoded_delimiters_are_refused_unless_their_own_option_allows_them(
    escape: str, spelling: object
) -> None:
    written = spelling(escape)  # type: ignore[operator]
    raw = f"/api/a{written}b".encode()
    with pytest.raises(BadTarget):
        normalize_path(raw)
    # every other option leaves this one refused
    others = {option: True for e, option in DELIMITERS.items() if e != escape}
    with pytest.raises(BadTarget):
        normalize_path(raw, allow_semicolon=True, **others)
    # its own option lets it through, kept encoded (upper-cased) inside its segment
    assert normalize_path(raw, **{DELIMITERS[escape]: True}) == f"/api/a{escape}b"


def test_allowed_encoded_slash_is_one_segment_and_not_a_dot_segment() -> None:
    assert normalize_path(b"/a/..%2F..%2Fb", allow_encoded_slash=True) == "/a/..%2F..%2Fb"


@pytest.mark.parametrize(
    "raw",
    [
        b"/%u002F",  # IIS %u encoding
        b"/a%u005cb",
        b"/%U002e%U002e/x",
        b"/a%%2F",
        b"/a%%32%46",  # '%' then an encoded "2F": refused before anything is decoded
        b"/a%2",
        b"/a%g0",
        b"/a%",
    ],
)
def test_malformed_escapes_are_refused(raw: bytes) -> None:
    with pytest.raises(BadTarget, match="malformed"):
        normalize_path(raw, allow_encoded_slash=True, allow_encoded_backslash=True)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        (b"/a%252Fb", "/a%252Fb"),  # decoded once by us, once by the back end: the text "%2F"
        (b"/a%252fb", "/a%252fb"),  # the digits after %25 are data, not an escape
        (b"/%252e%252e/admin", "/%252e%252e/admin"),  # not a dot segment, to us or a back end
        (b"/a%25%32%46", "/a%252F"),  # "%", "2", "F": the same text, spelled differently
        (b"/a%250A", "/a%250A"),  # the text "%0A", not a line feed
        (b"/a%20b", "/a%20b"),  # a space is data
        (b"/a%3fb%23c", "/a%3Fb%23c"),  # '?' and '#' inside a segment are data
    ],
)
def test_escapes_are_decoded_once(raw: bytes, normal: str) -> None:
    assert normalize_path(raw) == normal
    assert normalize_path(normal.encode()) == normal  # idempotent


@pytest.mark.parametrize(
    "raw",
    [
        b"/%C0%AF",  # overlong '/'
        b"/%c0%af..%c0%afadmin",
        b"/%C0%AE%C0%AE/admin",  # overlong '..'
        b"/%E0%80%AF",  # three-byte overlong '/'
        b"/%F0%80%80%AF",  # four-byte overlong '/'
        b"/%C1%9C",  # overlong '\'
        b"/%ED%A0%80",  # a UTF-16 surrogate
        b"/%F4%90%80%80",  # above U+10FFFF
        b"/%80",  # a continuation byte alone
        b"/%C3",  # a truncated sequence
        b"/%C3/%A9",  # a sequence split by '/'
        b"/%FF",
        b"/caf\xe9",  # raw Latin-1, not UTF-8
    ],
)
def test_encoded_bytes_must_be_utf8(raw: bytes) -> None:
    with pytest.raises(BadTarget, match="UTF-8"):
        normalize_path(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"/a%C2%85b",  # U+0085 NEXT LINE (a C1 control)
        b"/a%C2%80",
        b"/a%C2%9F",
    ],
)
def test_encoded_c1_controls_are_refused(raw: bytes) -> None:
    with pytest.raises(BadTarget, match="control"):
        normalize_path(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"/api/public/%EF%BC%8F../admin",  # FULLWIDTH SOLIDUS
        b"/api/%EF%BC%BCadmin",  # FULLWIDTH REVERSE SOLIDUS
        b"/api/admin%EF%BC%9Bx",  # FULLWIDTH SEMICOLON
        b"/api/public/%EF%BC%8E%EF%BC%8E/admin",  # FULLWIDTH FULL STOP twice: '..'
        b"/api/public/%E2%80%A5/admin",  # TWO DOT LEADER folds to '..'
        b"/api/%EF%B9%92",  # SMALL FULL STOP folds to '.'
        b"/api/%EF%BC%85%32%46",  # FULLWIDTH PERCENT SIGN
        b"/api/%EF%B9%A8",  # SMALL REVERSE SOLIDUS
    ],
)
def test_characters_that_fold_into_delimiters_are_refused(raw: bytes) -> None:
    with pytest.raises(BadTarget, match="fold"):
        normalize_path(raw)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        (b"/caf%c3%a9", "/caf%C3%A9"),
        (b"/%E6%97%A5%E6%9C%AC", "/%E6%97%A5%E6%9C%AC"),  # Japanese
        (b"/a/%E2%80%A6", "/a/%E2%80%A6"),  # an ellipsis folds to '...', a name
        (b"/%F0%9F%98%80/x", "/%F0%9F%98%80/x"),  # an emoji (four bytes)
        (b"/x/./caf%C3%A9/../y", "/x/y"),
    ],
)
def test_well_formed_utf8_passes(raw: bytes, normal: str) -> None:
    assert normalize_path(raw) == normal

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

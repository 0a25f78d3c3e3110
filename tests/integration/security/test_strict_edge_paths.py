"""A strict edge, paths (issue 9 §7, docs/routing.md): percent-encoded control bytes, encoded
delimiters, malformed and best-fit escapes are refused with 400 before anything is forwarded; the
spellings that are safe reach the upstream exactly as normalised."""

from __future__ import annotations

import pytest

from .test_strict_edge import assert_problem, edge, exchange, request

ENCODED_CONTROLS = [f"%{code:02X}" for code in [*range(0x20), 0x7F]] + ["%0a", "%0d", "%1f", "%7f", "%0D%0A"]


def get(target: str) -> bytes:
    return request(f"GET {target} HTTP/1.1", "Connection: close")


@pytest.mark.parametrize("escape", ENCODED_CONTROLS)
@pytest.mark.parametrize("where", ["/api/a{}b", "/api/{}", "/{}/../api", "/api/x{}.json"])
async def test_encoded_control_bytes_are_refused(escape: str, where: str) -> None:
    async with edge() as (up, port):
        answer = await exchange(port, get(where.format(escape)))
        assert_problem(answer, 400)
        assert up.requests == []


REFUSED = {
    # encoded delimiters a back end may decode (refused by default, any case of the hex digits)
    "slash": "/api/public/..%2Fadmin",
    "slash-lower": "/api/public/..%2fadmin",
    "backslash": "/api/public/..%5Cadmin",
    "backslash-lower": "/api/public/..%5cadmin",
    "semicolon": "/api/admin%3Bx=1",
    "semicolon-lower": "/api/admin%3bx",
    "semicolon-segment": "/api/admin/%3B/x",
    # raw delimiters
    "raw-semicolon": "/api/admin;jsessionid=x",
    "raw-backslash": "/api/a\\..\\admin",
    # malformed escapes, IIS %u
    "percent-u-slash": "/api/%u002Fadmin",
    "percent-u-dot": "/api/%u002e%u002e/admin",
    "percent-U": "/api/%U002F",
    "double-percent": "/api/a%%2F",
    "truncated": "/api/a%2",
    "not-hex": "/api/a%zz",
    "lone-percent": "/api/a%",
    # overlong and malformed UTF-8
    "overlong-slash": "/api/public/..%C0%AFadmin",
    "overlong-slash-lower": "/api/public/..%c0%afadmin",
    "overlong-dot": "/api/public/%C0%AE%C0%AE/admin",
    "overlong-3-byte": "/api/%E0%80%AFadmin",
    "overlong-4-byte": "/api/%F0%80%80%AF",
    "overlong-backslash": "/api/%C1%9C",
    "surrogate": "/api/%ED%A0%80",
    "beyond-unicode": "/api/%F4%90%80%80",
    "lone-continuation": "/api/%80",
    "truncated-sequence": "/api/caf%C3",
    "latin-1": "/api/caf%E9",
    # decodes to a C1 control or folds (NFKC, "best fit") into a delimiter or dot segment
    "c1-next-line": "/api/a%C2%85b",
    "fullwidth-solidus": "/api/public/..%EF%BC%8Fadmin",
    "fullwidth-reverse-solidus": "/api/public/..%EF%BC%BCadmin",
    "fullwidth-semicolon": "/api/admin%EF%BC%9Bx",
    "fullwidth-dots": "/api/public/%EF%BC%8E%EF%BC%8E/admin",
    "two-dot-leader": "/api/public/%E2%80%A5/admin",
}


@pytest.mark.parametrize("target", REFUSED.values(), ids=REFUSED.keys())
async def test_encoded_delimiters_and_malformed_escapes_are_refused(target: str) -> None:
    async with edge() as (up, port):
        answer = await exchange(port, get(target))
        assert_problem(answer, 400)
        assert up.requests == []


FORWARDED = {
    # double encoding: decoded once by us (not at all, %25 is reserved), once by the back end
    "double-encoded-slash": ("/api/a%252Fb", "/api/a%252Fb"),
    "double-encoded-dots": ("/api/public/%252e%252e/admin", "/api/public/%252e%252e/admin"),
    "double-encoded-nul": ("/api/a%2500", "/api/a%2500"),
    "encoded-percent-digits": ("/api/a%25%32%46", "/api/a%252F"),
    # encoded dot segments are decoded, then removed
    "encoded-dots": ("/api/public/%2e%2e/admin", "/api/admin"),
    "mixed-case-dots": ("/api/public/%2E%2e/admin", "/api/admin"),
    "unreserved": ("/%61pi/%7Eu", "/api/~u"),
    "reserved-kept-upper": ("/api/a%3fb%2a%20", "/api/a%3Fb%2A%20"),
    "utf-8": ("/api/caf%c3%a9", "/api/caf%C3%A9"),
    "ellipsis": ("/api/a%E2%80%A6", "/api/a%E2%80%A6"),
}


@pytest.mark.parametrize(("target", "forwarded"), FORWARDED.values(), ids=FORWARDED.keys())
async def test_safe_spellings_are_forwarded_as_normalised(target: str, forwarded: str) -> None:
    """The controls: what is refused above is refused for what it is, not for having a '%'."""
    async with edge() as (up, port):
        answer = await exchange(port, get(target))
        assert answer.status == 200, (answer.status, answer.body)
        assert [r.target for r in up.requests] == [forwarded]


async def test_encoded_slash_allowed_by_its_option_is_forwarded_encoded() -> None:
    async with edge(paths={"allow_encoded_slash": True}) as (up, port):
        answer = await exchange(port, get("/api/a%2fb/..%2F..%2Fc"))
        assert answer.status == 200, answer.body
        # still refused: the option is for '/', not for control bytes or the other delimiters
        for target in ("/api/a%00b", "/api/a%5Cb", "/api/a%3Bb"):
            assert_problem(await exchange(port, get(target)), 400)
    assert [r.target for r in up.requests] == ["/api/a%2Fb/..%2F..%2Fc"]

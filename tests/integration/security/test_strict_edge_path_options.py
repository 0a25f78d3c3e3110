"""A strict edge, the ``paths:`` options for ``%5C`` and ``%3B`` (docs/routing.md): each lets its
own escape through, encoded, and nothing else; encoded control bytes stay refused whatever is set.
These need the gateway to pass ``allow_encoded_backslash`` and ``allow_encoded_semicolon`` from
``config.paths`` to ``normalize_path``."""

from __future__ import annotations

import pytest

from .test_strict_edge import assert_problem, edge, exchange, request

OPTIONS = {
    "allow_encoded_backslash": ("/api/a%5cb", "/api/a%5Cb"),
    "allow_encoded_semicolon": ("/api/a%3bb", "/api/a%3Bb"),
}
OTHERS = {"allow_encoded_slash": "/api/a%2Fb", **{k: v[0] for k, v in OPTIONS.items()}}


def get(target: str) -> bytes:
    return request(f"GET {target} HTTP/1.1", "Connection: close")


@pytest.mark.parametrize("option", OPTIONS)
async def test_each_option_allows_its_own_escape_only(option: str) -> None:
    target, forwarded = OPTIONS[option]
    async with edge(paths={option: True}) as (up, port):
        answer = await exchange(port, get(target))
        assert answer.status == 200, (answer.status, answer.body)
        for other, refused in OTHERS.items():
            if other != option:
                assert_problem(await exchange(port, get(refused)), 400)
        for control in ("%00", "%0A", "%1b", "%7F"):
            assert_problem(await exchange(port, get(f"/api/a{control}b")), 400)
    assert [r.target for r in up.requests] == [forwarded]


async def test_every_option_at_once_still_refuses_control_bytes() -> None:
    paths = {"allow_encoded_slash": True, "allow_encoded_backslash": True, "allow_encoded_semicolon": True,
             "allow_semicolon": True}  # fmt: skip
    async with edge(paths=paths) as (up, port):
        for control in ("%00", "%09", "%0d%0a", "%7f"):
            assert_problem(await exchange(port, get(f"/api/a{control}b")), 400)
        answer = await exchange(port, get("/api/a%2F%5C%3B;b"))
        assert answer.status == 200, answer.body
    assert [r.target for r in up.requests] == ["/api/a%2F%5C%3B;b"]

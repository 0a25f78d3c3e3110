"""The cache policy's decisions on a fake context and an injected clock: data in (stored entries,
request fields, the time), decisions out (an answer, or what goes upstream). Collapsing is off here
(tests/integration/cache has it); the tests are async only for the loop its futures need."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from portway.cache import Cache, Inflight, MemoryStore
from portway.cache.entry import Entry
from portway.config.cache import CacheRule
from portway.contract import Answer, RequestHead
from portway.errors import ClientError
from portway.policies.base import Reply

T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class Ctx:
    def __init__(self, method: str = "GET", *headers: tuple[bytes, bytes]) -> None:
        self.head = RequestHead(
            method, b"/p", "1.1", [(b"host", b"gw"), *headers], True, False, "127.0.0.1", 1, 0.0
        )
        self.head.host = b"gw"
        self.query = b""
        self.identity = None
        self.upstream_headers: list[tuple[bytes, bytes]] = []
        self.response_headers: list[tuple[bytes, bytes]] = []
        self.notes: dict[str, object] | None = None
        self.fallback = None
        self.backgrounds: list[list[tuple[bytes, bytes]]] = []

    def background(self, headers, upstream_headers, notes, fallback) -> None:  # type: ignore[no-untyped-def]
        self.backgrounds.append(upstream_headers)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def policy(clock: Clock, cc: bytes, **headers: bytes) -> Cache:
    store = MemoryStore(1 << 20, clock)
    stored = [(b"cache-control", cc), (b"date", formatdate(T0, usegmt=True).encode())]
    stored += [(k.replace("_", "-").encode(), v) for k, v in headers.items()]
    store.put("gw/p", Entry(200, stored, b"body", T0, T0, ()), 3600)
    return Cache(CacheRule(collapse=False), store, Inflight(), clock)


async def test_fresh_then_stale_as_the_clock_moves(clock: Clock) -> None:
    cache = policy(clock, b"max-age=60", etag=b'"v1"')
    hit = cache.request(Ctx())
    assert isinstance(hit, Answer) and hit.status == 200 and hit.body == b"body"
    assert (b"age", b"0") in hit.headers
    clock.now = T0 + 61
    ctx = Ctx()
    assert cache.request(ctx) is None  # goes upstream, with our validator
    assert (b"if-none-match", b'"v1"') in ctx.upstream_headers


async def test_stale_while_revalidate_answers_and_revalidates_once(clock: Clock) -> None:
    cache = policy(clock, b"max-age=60, stale-while-revalidate=30", etag=b'"v1"')
    clock.now = T0 + 70
    first, second = Ctx(), Ctx()
    assert isinstance(cache.request(first), Answer)
    assert isinstance(cache.request(second), Answer)
    assert len(first.backgrounds) == 1 and not second.backgrounds  # one revalidation per key
    assert (b"if-none-match", b'"v1"') in first.backgrounds[0]
    clock.now = T0 + 91  # past the window: validated in line
    assert cache.request(Ctx()) is None


async def test_request_directives_on_the_clock(clock: Clock) -> None:
    cache = policy(clock, b"max-age=60")
    clock.now = T0 + 30
    assert cache.request(Ctx("GET", (b"cache-control", b"max-age=10"))) is None
    assert isinstance(cache.request(Ctx("GET", (b"cache-control", b"min-fresh=20"))), Answer)
    assert cache.request(Ctx("GET", (b"cache-control", b"min-fresh=40"))) is None
    clock.now = T0 + 100
    assert isinstance(cache.request(Ctx("GET", (b"cache-control", b"max-stale=50"))), Answer)
    assert cache.request(Ctx("GET", (b"cache-control", b"max-stale=10"))) is None


async def test_must_revalidate_is_never_served_stale(clock: Clock) -> None:
    cache = policy(clock, b"max-age=60, must-revalidate")
    clock.now = T0 + 61
    assert cache.request(Ctx("GET", (b"cache-control", b"max-stale"))) is None
    refused = cache.request(Ctx("GET", (b"cache-control", b"only-if-cached")))
    assert isinstance(refused, ClientError) and refused.status == 504


async def test_a_304_is_merged_into_the_stored_response(clock: Clock) -> None:
    cache = policy(clock, b"max-age=0", etag=b'"v1"', x_version=b"1")
    ctx = Ctx()
    assert cache.request(ctx) is None
    clock.now = T0 + 5
    reply = Reply(
        304, b"Not Modified", [(b"ETag", b'"v1"'), (b"Cache-Control", b"max-age=60"), (b"X-Version", b"2")]
    )
    body_filter = cache.response(ctx, reply)
    assert body_filter is not None and body_filter.data(b"") == b"" and body_filter.end() == b"body"
    assert reply.status == 200 and (b"x-version", b"2") in reply.headers
    hit = cache.request(Ctx())
    assert isinstance(hit, Answer) and (b"x-version", b"2") in hit.headers


async def test_a_200_to_head_freshens_the_stored_response_it_describes(clock: Clock) -> None:
    cache = policy(clock, b"max-age=10", etag=b'"v1"')
    clock.now = T0 + 20
    head = Ctx("HEAD")
    assert cache.request(head) is None  # stale: the HEAD goes upstream
    other = Reply(200, b"OK", [(b"ETag", b'"v2"'), (b"Cache-Control", b"max-age=1000")])
    assert cache.response(head, other) is None
    assert cache.request(Ctx()) is None  # another response's validator: nothing freshened
    head = Ctx("HEAD")
    cache.request(head)
    same = Reply(200, b"OK", [(b"ETag", b'"v1"'), (b"Cache-Control", b"max-age=1000"), (b"X-New", b"1")])
    cache.response(head, same)
    hit = cache.request(Ctx())
    assert isinstance(hit, Answer) and hit.body == b"body" and (b"x-new", b"1") in hit.headers

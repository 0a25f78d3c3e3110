"""What the compression policy does to a response head: data in (a Reply), data out."""

from __future__ import annotations

import gzip

import pytest
from compression_fakes import FakeContext, request

from portway.compression.policy import Compression
from portway.config.compression import Compression as Config
from portway.policies.base import Reply

POLICY = Compression(Config())
TEXT = [(b"Content-Type", b"text/html; charset=utf-8")]


def reply(*headers: tuple[bytes, bytes], status: int = 200) -> Reply:
    return Reply(status, b"OK", [*TEXT, *headers])


def names(r: Reply) -> dict[bytes, bytes]:
    return {n.lower(): v for n, v in r.headers}


def run(r: Reply, ctx: FakeContext | None = None) -> bool:
    """Run the hook; True when it asked for a body filter (the body will be encoded)."""
    return POLICY.response(ctx or FakeContext(), r) is not None


def test_an_eligible_response_is_encoded() -> None:
    r = reply((b"Content-Length", b"5000"), (b"ETag", b'"v1"'), (b"Accept-Ranges", b"bytes"))
    body_filter = POLICY.response(FakeContext(), r)
    assert body_filter is not None
    h = names(r)
    assert h[b"content-encoding"] == b"zstd"  # the default preference, all equally accepted
    assert b"content-length" not in h  # re-chunked by the exchange
    assert b"accept-ranges" not in h
    assert h[b"etag"] == b'W/"v1"'
    assert h[b"vary"] == b"Accept-Encoding"


def test_the_filter_is_the_negotiated_coding() -> None:
    r = reply()
    body_filter = POLICY.response(FakeContext(request(accept="gzip;q=1, br;q=0.5")), r)
    assert body_filter is not None and names(r)[b"content-encoding"] == b"gzip"
    assert gzip.decompress(body_filter.data(b"hello ") + body_filter.data(b"world") + body_filter.end()) == (
        b"hello world"
    )


def test_a_weak_etag_stays_as_it_is() -> None:
    r = reply((b"ETag", b'W/"v1"'))
    assert run(r) and names(r)[b"etag"] == b'W/"v1"'


@pytest.mark.parametrize(
    ("existing", "merged"),
    [
        (b"Origin", b"Origin, Accept-Encoding"),
        (b"accept-encoding", b"accept-encoding"),  # already there (any case)
        (b"Origin, Accept-Encoding", b"Origin, Accept-Encoding"),
        (b"*", b"*"),  # varies on everything already
        (b"", b"Accept-Encoding"),
    ],
)
def test_vary_is_merged_into_the_upstreams(existing: bytes, merged: bytes) -> None:
    r = reply((b"Vary", existing))
    assert run(r)
    assert [v for n, v in r.headers if n.lower() == b"vary"] == [merged]


def test_vary_is_added_even_when_this_client_gets_identity() -> None:
    r = reply((b"ETag", b'"v1"'), (b"Content-Length", b"5000"))
    assert not run(r, FakeContext(request(accept=None)))
    h = names(r)
    assert h[b"vary"] == b"Accept-Encoding"  # another client would have got it encoded
    assert h[b"etag"] == b'"v1"' and h[b"content-length"] == b"5000"  # otherwise untouched
    assert b"content-encoding" not in h


@pytest.mark.parametrize(
    "why",
    [
        "HEAD",
        "204",
        "206",
        "304",
        "101",
        "100",
        "content-range",
        "encoded",
        "no-transform",
        "small",
        "image",
        "no type",
    ],
)
def test_nothing_is_done_for(why: str) -> None:
    ctx = FakeContext(request("HEAD")) if why == "HEAD" else FakeContext()
    status = int(why) if why.isdigit() else 200
    extra = {
        "content-range": [(b"Content-Range", b"bytes 0-99/5000")],
        "encoded": [(b"Content-Encoding", b"gzip")],
        "no-transform": [(b"Cache-Control", b"public, no-transform, max-age=60")],
        "small": [(b"Content-Length", b"1023")],
    }.get(why, [])
    if why == "image":
        r = Reply(status, b"OK", [(b"Content-Type", b"image/png")])
    elif why == "no type":
        r = Reply(status, b"OK", [])
    else:
        r = reply(*extra, status=status)
    before = list(r.headers)
    assert not run(r, ctx)
    assert r.headers == before, "not a header changed, Vary included"


def test_the_minimum_size_is_inclusive_and_an_unknown_length_is_compressed() -> None:
    assert run(reply((b"Content-Length", b"1024")))
    assert run(reply())  # chunked or close-delimited upstream body: no Content-Length


def test_no_transform_only_as_a_directive() -> None:
    assert run(reply((b"Cache-Control", b'private, community="no-transform-ish"')))


def test_several_accept_encoding_lines_are_one_list() -> None:
    head = request(accept="identity")
    head.headers.append((b"accept-encoding", b"br"))
    r = reply()
    assert run(r, FakeContext(head)) and names(r)[b"content-encoding"] == b"br"


def test_request_bodies_are_left_alone_unless_configured() -> None:
    ctx = FakeContext(request("POST", content_encoding="gzip"))
    ctx.head.content_length = 10
    POLICY.request(ctx)
    assert ctx.request_filter is None
    Compression(Config.model_validate({"decompress": {}})).request(ctx)
    assert ctx.request_filter is not None

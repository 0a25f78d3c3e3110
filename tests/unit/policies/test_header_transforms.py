"""Header transforms as data in, data out: templates rendered from a request's context, and the
policy's edits on the upstream request's and the response's header lists."""

from __future__ import annotations

import pytest
from policy_support import FakeContext

from portway.config.transforms import HeaderTransforms
from portway.contract import RequestHead
from portway.policies.base import Identity, Reply
from portway.policies.headers import HeaderTransformPolicy
from portway.policies.templates import Template


def request(
    target: bytes = b"/api/items?page=2", headers: list[tuple[bytes, bytes]] | None = None
) -> RequestHead:
    head = RequestHead("GET", target, "1.1", headers or [], True, False, "10.0.0.1", 40000, 0.0)
    head.host = b"shop.example"
    head.request_id = "req-1"
    return head


USER = Identity(
    "alice", ("admin",), claims={"sub": "alice", "tenant": "t-9", "groups": ["a", "b"], "vip": True}
)


def context(**kw: object) -> FakeContext:
    return FakeContext(head=request(**kw), identity=USER, client_ip="203.0.113.7", route_name="items")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("template", "value"),
    [
        ("plain", b"plain"),
        ("${request_id}", b"req-1"),
        ("${client_ip}|${route}|${method}|${host}", b"203.0.113.7|items|GET|shop.example"),
        ("${path}", b"/api/items"),
        ("${claims.sub}/${claims.tenant}", b"alice/t-9"),
        ("${claims.groups};${claims.vip};${claims.missing}", b"a,b;true;"),
        ("ua=${header.User-Agent}", b"ua=probe/1"),
        ("$5 and ${header.X-Absent}", b"$5 and "),
    ],
)
def test_templates_render_from_the_request(template: str, value: bytes) -> None:
    ctx = context(headers=[(b"user-agent", b"probe/1")])
    assert Template(template).render(ctx) == value


def test_claims_are_empty_without_an_identity() -> None:
    ctx = context()
    ctx.identity = None
    assert Template("[${claims.sub}]").render(ctx) == b"[]"


def test_an_api_key_consumer_has_a_subject_too() -> None:
    ctx = context()
    ctx.identity = Identity("consumer:ci", consumer="ci")
    assert Template("${claims.sub}").render(ctx) == b"consumer:ci"


@pytest.mark.parametrize("hostile", ["a\r\nX-Admin: 1", "a\nb", "nul\x00", "tab\t", "del\x7f", "x" * 5000])
def test_a_value_with_control_bytes_or_too_long_is_refused(hostile: str) -> None:
    ctx = context()
    ctx.identity = Identity("alice", claims={"note": hostile})
    assert Template("n=${claims.note}").render(ctx) is None


def test_a_path_template_encodes_its_variables() -> None:
    ctx = context()
    ctx.identity = Identity("a/b?c d", claims={})
    template = Template(
        "/users/${claims.sub}${path}", lambda kind, v: v.replace(b"/", b"%2F") if kind != "path" else v
    )
    assert template.render(ctx) == b"/users/a%2Fb?c d/api/items"


def policy(config: dict[str, object]) -> HeaderTransformPolicy:
    return HeaderTransformPolicy(HeaderTransforms.model_validate(config))


def test_request_edits_remove_set_and_add_in_every_spelling() -> None:
    headers = [
        (b"x-debug", b"1"),
        (b"x_debug", b"2"),
        (b"x-env", b"client"),
        (b"x-keep", b"k"),
        (b"accept", b"*/*"),
    ]
    ctx = context(headers=headers)
    transform = policy(
        {
            "request": {
                "remove": ["X-Debug"],
                "set": {"X-Env": "prod", "X-Caller": "${claims.sub}"},
                "add": {"X-Keep": "gw"},
            }
        }
    )
    assert transform.request(ctx) is None
    assert ctx.head.headers == [(b"x-keep", b"k"), (b"accept", b"*/*")]
    assert ctx.upstream_headers == [(b"x-env", b"prod"), (b"x-caller", b"alice"), (b"x-keep", b"gw")]


def test_a_set_that_renders_empty_or_unsafe_still_removes_the_clients_value() -> None:
    ctx = context(headers=[(b"x-caller", b"forged"), (b"x-note", b"forged")])
    ctx.identity = Identity("alice", claims={"note": "evil\r\nx: y"})
    transform = policy({"request": {"set": {"X-Caller": "${claims.nobody}", "X-Note": "${claims.note}"}}})
    transform.request(ctx)
    assert ctx.head.headers == [] and ctx.upstream_headers == []


def test_response_edits_match_any_case() -> None:
    ctx = context()
    headers = [
        (b"Server", b"secret/1.0"),
        (b"X-Frame-Options", b"SAMEORIGIN"),
        (b"Content-Type", b"text/plain"),
    ]
    transform = policy(
        {
            "response": {
                "remove": ["server"],
                "set": {"X-Frame-Options": "DENY"},
                "add": {"X-Seen-By": "${client_ip}"},
            }
        }
    )
    transform.response(ctx, Reply(200, b"OK", headers))
    assert headers == [
        (b"Content-Type", b"text/plain"),
        (b"x-frame-options", b"DENY"),
        (b"x-seen-by", b"203.0.113.7"),
    ]

from __future__ import annotations

import pytest
from policy_support import FakeContext, head

from portway.config.security import CorsConfig
from portway.contract import Answer
from portway.errors import ClientError
from portway.policies.base import Denial
from portway.policies.cors import Cors

APP = "https://app.example.com"


def cors(**kw: object) -> Cors:
    return Cors(CorsConfig(**kw))  # type: ignore[arg-type]


def preflight(origin: str = APP, method: str = "PUT", headers: str | None = None) -> FakeContext:
    fields = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        fields["Access-Control-Request-Headers"] = headers
    return FakeContext(head=head("OPTIONS", fields))


def actual(origin: str | None = APP, method: str = "GET") -> FakeContext:
    return FakeContext(head=head(method, {"Origin": origin} if origin else {}))


def test_preflight_allowed_is_answered_with_204() -> None:
    policy = cors(origins=[APP], headers=["Authorization", "Content-Type"], max_age="10m")
    denial = policy.request(preflight(headers="content-type, AUTHORIZATION"))
    assert isinstance(denial, Denial)
    assert isinstance(denial, Answer) and denial.status == 204
    assert dict(denial.headers) == {
        b"access-control-allow-origin": APP.encode(),
        b"access-control-allow-methods": b"GET, HEAD, POST, PUT, PATCH, DELETE",
        b"access-control-allow-headers": b"Authorization, Content-Type",
        b"access-control-max-age": b"600",
        b"vary": b"Origin",
    }


def test_preflight_with_credentials() -> None:
    denial = cors(origins=[APP], credentials=True).request(preflight())
    assert isinstance(denial, Denial)
    assert (b"access-control-allow-credentials", b"true") in denial.headers


@pytest.mark.parametrize(
    ("ctx", "reason"),
    [(preflight(origin="https://evil.example"), "origin"),
     (preflight(method="PROPFIND"), "PROPFIND"),
     (preflight(headers="content-type, x-secret"), "x-secret")],
)  # fmt: skip
def test_preflight_refused_is_a_403_problem(ctx: FakeContext, reason: str) -> None:
    denial = cors(origins=[APP], methods=["GET", "PUT"]).request(ctx)
    assert isinstance(denial, Denial)
    assert isinstance(denial, ClientError) and denial.status == 403
    assert denial.detail is not None and reason in denial.detail


def test_safelisted_methods_need_no_listing() -> None:
    denial = cors(origins=[APP], methods=["PUT"]).request(preflight(method="POST"))
    assert isinstance(denial, Denial) and denial.status == 204


def test_wildcard_headers_echo_the_requested_ones() -> None:
    denial = cors(origins=["*"], headers=["*"]).request(preflight(headers="Authorization, X-Trace"))
    assert isinstance(denial, Denial) and denial.status == 204
    headers = dict(denial.headers)
    assert headers[b"access-control-allow-headers"] == b"authorization, x-trace"
    assert headers[b"access-control-allow-origin"] == b"*"
    assert b"vary" not in headers


def test_options_without_request_method_is_an_actual_request() -> None:
    ctx = FakeContext(head=head("OPTIONS", {"Origin": APP}))
    assert cors(origins=[APP]).request(ctx) is None
    assert ctx.header(b"access-control-allow-origin") == APP.encode()


def test_actual_request_from_a_listed_origin() -> None:
    ctx = actual()
    assert cors(origins=[APP, "https://other.example"], expose_headers=["X-Request-Id"]).request(ctx) is None
    assert ctx.response_headers == [
        (b"access-control-allow-origin", APP.encode()),
        (b"vary", b"Origin"),
        (b"access-control-expose-headers", b"X-Request-Id"),
    ]


def test_actual_request_with_credentials_names_the_origin() -> None:
    ctx = actual()
    cors(origins=[APP], credentials=True).request(ctx)
    assert ctx.header(b"access-control-allow-origin") == APP.encode()
    assert ctx.header(b"access-control-allow-credentials") == b"true"


def test_wildcard_without_credentials_is_a_star_without_vary() -> None:
    ctx = actual("https://anyone.example")
    cors(origins=["*"]).request(ctx)
    assert ctx.response_headers == [(b"access-control-allow-origin", b"*")]


def test_disallowed_origin_is_forwarded_without_cors_headers() -> None:
    ctx = actual("https://evil.example", method="POST")
    assert cors(origins=[APP], credentials=True).request(ctx) is None
    assert ctx.response_headers == [(b"vary", b"Origin")]


def test_no_origin_is_not_cors_but_the_response_still_varies() -> None:
    ctx = actual(None)
    assert cors(origins=[APP]).request(ctx) is None
    assert ctx.response_headers == [(b"vary", b"Origin")]
    ctx = actual(None)
    cors(origins=["*"]).request(ctx)
    assert ctx.response_headers == []


def test_origin_match_is_exact_after_normalising_the_config() -> None:
    policy = cors(origins=["HTTPS://App.Example.com"])
    assert policy.request(actual()) is None
    for other in (
        "https://app.example.com.evil.example",
        "http://app.example.com",
        "https://app.example.com:8443",
    ):
        ctx = actual(other)
        policy.request(ctx)
        assert ctx.header(b"access-control-allow-origin") is None


@pytest.mark.parametrize(
    "config",
    [{"origins": ["https://app.example.com/"]}, {"origins": ["app.example.com"]},
     {"origins": [APP], "credentials": True, "headers": ["*"]},
     {"origins": [APP], "credentials": True, "expose_headers": ["*"]}],
)  # fmt: skip
def test_config_mistakes_are_construction_errors(config: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        cors(**config)

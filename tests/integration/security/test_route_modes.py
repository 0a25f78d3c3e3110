"""``auth: required | optional | none`` per route, over real sockets."""

from __future__ import annotations

from .support import (
    IDENTITY_HEADERS,
    assert_invalid_token,
    assert_missing_credential,
    call,
    serve,
    token,
    unsigned_token,
)

ROUTES = (
    {"path": "/req/", "auth": "required"},
    {"path": "/opt/", "auth": "optional"},
    {"path": "/pub/", "auth": "none"},
    {"path": "/default/"},  # auth configured: required by default
)
SPOOF = tuple(f"{h}: spoofed" for h in IDENTITY_HEADERS)


def identity_of(request: object) -> dict[str, list[str]]:
    return {h: request.header_all(h) for h in IDENTITY_HEADERS if request.header_all(h)}  # type: ignore[attr-defined]


async def test_required() -> None:
    async with serve(*ROUTES) as (up, port):
        for path in ("/req/x", "/default/x"):
            assert_missing_credential(await call(port, path))
            assert_missing_credential(await call(port, path, *SPOOF))
            assert_invalid_token(await call(port, path, bearer=unsigned_token()))
            assert (await call(port, path, bearer=token())).status == 200
    assert [identity_of(r) for r in up.requests] == [{"x-user-id": ["alice"]}] * 2


async def test_optional_forwards_anonymous_requests_without_identity() -> None:
    async with serve(*ROUTES) as (up, port):
        assert (await call(port, "/opt/x")).status == 200
        assert (await call(port, "/opt/x", *SPOOF)).status == 200
        assert (await call(port, "/opt/x", *SPOOF, bearer=token())).status == 200
        # A bad credential never degrades to anonymous.
        assert_invalid_token(await call(port, "/opt/x", bearer=unsigned_token()))
        assert_invalid_token(await call(port, "/opt/x", bearer="garbage"))
        assert_invalid_token(await call(port, "/opt/x", bearer=token(exp=1)))
    assert [identity_of(r) for r in up.requests] == [{}, {}, {"x-user-id": ["alice"]}]


async def test_none_forwards_everything_but_identity_headers() -> None:
    """No authentication on the route: the Authorization header is the service's business and goes
    through untouched (even an invalid token); client identity headers are still stripped."""
    bad = unsigned_token()
    async with serve(*ROUTES) as (up, port):
        assert (await call(port, "/pub/x", *SPOOF)).status == 200
        assert (await call(port, "/pub/x", *SPOOF, bearer=bad)).status == 200
        assert (await call(port, "/pub/x", bearer=token())).status == 200
    assert [identity_of(r) for r in up.requests] == [{}, {}, {}]
    assert up.requests[1].header_all("authorization") == [f"Bearer {bad}"]


async def test_authorization_is_forwarded_on_authenticated_routes() -> None:
    # What the code does: the verified bearer token also reaches the service (which may want it to
    # call others on the user's behalf); the identity headers are the gateway's.
    bearer = token()
    async with serve(*ROUTES) as (up, port):
        assert (await call(port, "/req/x", bearer=bearer)).status == 200
    assert up.requests[0].header_all("authorization") == [f"Bearer {bearer}"]


async def test_no_auth_configured_means_public_routes() -> None:
    async with serve({"path": "/api/"}, auth={}) as (up, port):
        assert (await call(port, "/api/x", *SPOOF, bearer=unsigned_token())).status == 200
    assert identity_of(up.requests[0]) == {}


async def test_unusable_claim_types_are_refused_not_a_500() -> None:
    """Claims that do not fit a header or a role list (an IdP bug or a compromised one) are a bad
    credential: 401, never a gateway crash."""
    cases = [
        {"role": 5},
        {"role": True},
        {"role": {"a": 1}},
        {"scope": 7},
        {"scope": [["nested"]]},
        {"role": ["ok", {"x": 1}]},
    ]
    async with serve(*ROUTES) as (_, port):
        for claims in cases:
            assert_invalid_token(await call(port, "/req/x", bearer=token(**claims)))
        # the shapes that are fine: a string, a list of strings, space-separated scopes
        assert (await call(port, "/req/x", bearer=token(role="admin", scope="a b"))).status == 200
        assert (await call(port, "/req/x", bearer=token(role=["a", "b"], scope=["a"]))).status == 200

"""``roles:`` (any one of them) and ``scopes:`` (all of them), per route and per method, over real
sockets: 403 for an authenticated caller who lacks them, 401 for an anonymous one."""

from __future__ import annotations

from .support import assert_missing_credential, call, serve, token

ROUTES = (
    {"path": "/admin/", "roles": ["admin", "ops"]},
    {"path": "/write/", "scopes": ["orders:read", "orders:write"]},
    {"path": "/orders/", "roles": {"POST": ["admin"], "DELETE": ["ops"]}, "scopes": {"GET": ["orders:read"]}},
    {"path": "/maybe/", "auth": "optional", "roles": {"POST": ["admin"]}},
)


async def test_roles_any_of() -> None:
    async with serve(*ROUTES) as (up, port):
        assert (await call(port, "/admin/x", bearer=token(role="admin"))).status == 200
        assert (await call(port, "/admin/x", bearer=token(role=["user", "ops"]))).status == 200
        denied = await call(port, "/admin/x", bearer=token(role=["user"]))
        assert denied.status == 403
        assert denied.header("content-type") == "application/problem+json"
        assert denied.header("www-authenticate") is None
        assert (await call(port, "/admin/x", bearer=token())).status == 403  # no role claim at all
        assert (await call(port, "/admin/x", bearer=token(role="Admin"))).status == 403  # exact match
        assert_missing_credential(await call(port, "/admin/x", "X-User-Role: admin"))
    assert len(up.requests) == 2


async def test_scopes_all_of() -> None:
    async with serve(*ROUTES) as (up, port):
        assert (await call(port, "/write/x", bearer=token(scope="orders:write orders:read"))).status == 200
        assert (await call(port, "/write/x", bearer=token(scp=["orders:read", "orders:write"]))).status == 200
        assert (await call(port, "/write/x", bearer=token(scope="orders:read"))).status == 403
        assert (await call(port, "/write/x", bearer=token(scope="orders:read,orders:write"))).status == 403
        assert_missing_credential(await call(port, "/write/x", "X-User-Scopes: orders:read orders:write"))
    assert len(up.requests) == 2


async def test_per_method_requirements() -> None:
    reader = token(scope="orders:read")
    admin = token(role="admin")
    ops = token(role="ops", scope="orders:read")
    async with serve(*ROUTES) as (_, port):
        assert (await call(port, "/orders/1", bearer=reader)).status == 200
        assert (await call(port, "/orders/1", bearer=admin)).status == 403  # GET needs the scope
        assert (await call(port, "/orders/1", method="POST", bearer=admin)).status == 200
        assert (await call(port, "/orders/1", method="POST", bearer=reader)).status == 403
        assert (await call(port, "/orders/1", method="DELETE", bearer=ops)).status == 200
        assert (await call(port, "/orders/1", method="DELETE", bearer=admin)).status == 403
        # a method with no requirement listed only needs authentication (route default: required)
        assert (await call(port, "/orders/1", method="PUT", bearer=token())).status == 200
        assert_missing_credential(await call(port, "/orders/1", method="PUT"))


async def test_head_is_held_to_the_get_requirement() -> None:
    """HEAD runs the GET handler in most frameworks (and tells whether a resource exists, and its
    size): a requirement listed for GET only must not be skipped by asking with HEAD."""
    async with serve(*ROUTES) as (up, port):
        assert (await call(port, "/orders/1", method="HEAD", bearer=token(role="admin"))).status == 403
        assert (await call(port, "/orders/1", method="HEAD", bearer=token(scope="orders:read"))).status == 200
    assert [r.method for r in up.requests] == ["HEAD"]


async def test_optional_route_with_requirements() -> None:
    async with serve(*ROUTES) as (up, port):
        assert (await call(port, "/maybe/x")).status == 200  # GET: nothing required, anonymous is fine
        assert_missing_credential(await call(port, "/maybe/x", method="POST"))
        assert (await call(port, "/maybe/x", method="POST", bearer=token(role="user"))).status == 403
        assert (await call(port, "/maybe/x", method="POST", bearer=token(role="admin"))).status == 200
    assert len(up.requests) == 2


async def test_a_403_says_nothing_about_what_was_missing_beyond_the_kind() -> None:
    async with serve(*ROUTES) as (_, port):
        body = (await call(port, "/admin/x", bearer=token(role="user"))).json()
    assert body["status"] == 403
    assert "admin" not in body["detail"] and "ops" not in body["detail"]

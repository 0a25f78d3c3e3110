"""The letter-case rule: a path that differs from a route only in letter case never reaches a back
end through another route (a back end matching case-insensitively would read it as the first)."""

from __future__ import annotations

import pytest

from portway.routing import BadTarget, Match, MethodNotAllowed, Router, RouteSpec


def spec(path: str, name: str | None = None, **kw: object) -> RouteSpec[str]:
    return RouteSpec(path=path, payload=name or path, **kw)  # type: ignore[arg-type]


def routed(table: Router[str], path: str, method: str = "GET", host: str | None = None) -> str | None:
    found = table.match(method, path, host)
    assert not isinstance(found, MethodNotAllowed)
    return None if found is None else found.route.payload


PROTECTED = Router([spec("/api/admin/", "admin"), spec("/api/", "public"), spec("/health", "health")])


@pytest.mark.parametrize(
    "path",
    [
        "/api/ADMIN/users",
        "/api/Admin/users",
        "/api/aDmIn",
        "/api/ADMIN",
        "/api/ADMIN/",
    ],
)
def test_case_variants_of_another_route_are_refused(path: str) -> None:
    with pytest.raises(BadTarget, match="letter case"):
        PROTECTED.match("GET", path)


@pytest.mark.parametrize("path", ["/API/admin/users", "/Api/Admin/", "/HEALTH", "/Health"])
def test_case_variants_that_no_route_forwards_stay_unrouted(path: str) -> None:
    """Exactly, these match nothing (a 404 forwards nothing), so there is nothing to refuse."""
    assert PROTECTED.match("GET", path) is None
    with_catch_all = Router([spec("/api/admin/", "admin"), spec("/health", "health"), spec("/", "public")])
    with pytest.raises(BadTarget):
        with_catch_all.match("GET", path)


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/api/admin/users", "admin"),
        ("/api/Users", "public"),  # folded it is still /api/'s: a case variant of nothing else
        ("/api/USERS/Admin", "public"),
        ("/api/admins", "public"),
        ("/health", "health"),
    ],
)
def test_paths_whose_folded_form_lands_on_the_same_route_pass(path: str, route: str) -> None:
    assert routed(PROTECTED, path) == route


def test_unrouted_case_variants_stay_unrouted() -> None:
    assert routed(PROTECTED, "/OTHER") is None
    table = Router([spec("/admin", "admin", methods=frozenset({"POST"}))])
    assert table.match("GET", "/ADMIN") is None  # folded, only a 405: nothing to confuse
    table = Router([spec("/admin", "admin"), spec("/ADMIN", "upper", methods=frozenset({"POST"}))])
    assert table.match("GET", "/ADMIN") == MethodNotAllowed(("POST",))  # a 405 forwards nothing


def test_upper_case_routes_protect_their_lower_case_spelling() -> None:
    table = Router([spec("/api/Admin/", "admin"), spec("/", "public")])
    assert routed(table, "/api/Admin/x") == "admin"
    for path in ("/api/admin/x", "/api/ADMIN/x", "/API/admin"):
        with pytest.raises(BadTarget):
            table.match("GET", path)
    assert routed(table, "/api/other") == "public"


def test_a_catch_all_does_not_make_every_upper_case_path_a_variant() -> None:
    table = Router([spec("/", "public"), spec("/api/users/", "users")])
    assert routed(table, "/Some/Page") == "public"
    assert routed(table, "/api/Users2") == "public"
    with pytest.raises(BadTarget):
        table.match("GET", "/api/Users/1")


def test_host_routes_are_folded_too() -> None:
    table = Router([spec("/admin/", "internal-admin", host="internal.example"), spec("/", "public")])
    assert routed(table, "/admin/x", host="internal.example") == "internal-admin"
    with pytest.raises(BadTarget):
        table.match("GET", "/ADMIN/x", "internal.example")
    # for other hosts there is no admin route to confuse
    assert routed(table, "/ADMIN/x", host="www.example") == "public"
    assert routed(table, "/ADMIN/x") == "public"


def test_default_routes_protect_host_requests_that_fall_through() -> None:
    table = Router(
        [spec("/api/admin/", "admin"), spec("/", "public"), spec("/static/", "static", host="www.example")]
    )
    with pytest.raises(BadTarget):
        table.match("GET", "/api/ADMIN", "www.example")  # no host route takes it: the default table's
    # a host whose own catch-all takes every path never reaches the default admin route, in any case
    table = Router([spec("/api/admin/", "admin"), spec("/", "site", host="www.example")])
    assert routed(table, "/api/admin", host="www.example") == "site"
    assert routed(table, "/api/ADMIN", host="www.example") == "site"


def test_method_decides_which_route_the_folded_path_reaches() -> None:
    table = Router([spec("/admin", "admin", methods=frozenset({"GET"})), spec("/", "public")])
    with pytest.raises(BadTarget):
        table.match("GET", "/ADMIN")
    assert routed(table, "/ADMIN", method="POST") == "public"  # /admin does not take POST


def test_parameters_are_not_folded_and_still_compete() -> None:
    table = Router([spec("/users/{id}/Admin", "admin"), spec("/users/", "users")])
    found = table.match("GET", "/users/Bob/Admin")
    assert isinstance(found, Match) and found.params == {"id": "Bob"}
    assert routed(table, "/users/Bob/profile") == "users"
    with pytest.raises(BadTarget):
        table.match("GET", "/users/Bob/admin")


def test_routes_spelled_alike_but_for_case_each_keep_their_exact_spelling() -> None:
    """An ambiguous table (the operator wrote both): the exact spelling decides; a third spelling
    that a catch-all would forward is a variant of both and is refused."""
    for order in (
        (spec("/Foo/", "upper"), spec("/foo/", "lower"), spec("/", "public")),
        (spec("/", "public"), spec("/foo/", "lower"), spec("/Foo/", "upper")),
    ):
        table = Router(order)
        assert routed(table, "/Foo/x") == "upper"
        assert routed(table, "/foo/x") == "lower"
        with pytest.raises(BadTarget):
            table.match("GET", "/FOO/x")


def test_the_check_is_skipped_when_it_cannot_change_the_answer() -> None:
    """No upper-case route and a lower-case path: the folded twin is never consulted."""
    table = Router([spec("/api/admin/", "admin"), spec("/api/", "public")])
    assert table._upper_routes is False
    twin = table._folded
    table._folded = None  # were it consulted, a variant would no longer be refused
    assert routed(table, "/api/admin/x") == "admin"
    assert routed(table, "/api/ADMIN/x") == "public"
    table._folded = twin
    with pytest.raises(BadTarget):
        table.match("GET", "/api/ADMIN/x")
    assert Router([spec("/api/Admin/")])._upper_routes is True

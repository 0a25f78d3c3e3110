"""The route table as data in, matches out."""

from __future__ import annotations

import time

import pytest

from portway.routing import Match, MethodNotAllowed, Router, RouteSpec


def router(*specs: RouteSpec[str]) -> Router[str]:
    return Router(specs)


def spec(path: str, name: str | None = None, **kw: object) -> RouteSpec[str]:
    return RouteSpec(path=path, payload=name or path, **kw)  # type: ignore[arg-type]


def match(
    table: Router[str], path: str, method: str = "GET", host: str | None = None
) -> tuple[str, str] | None:
    found = table.match(method, path, host)
    assert not isinstance(found, MethodNotAllowed)
    return None if found is None else (found.route.payload, found.upstream_path)


def test_prefix_matches_itself_with_and_without_slash_and_below() -> None:
    table = router(spec("/api/users/", rewrite="/users/"))
    assert match(table, "/api/users") == ("/api/users/", "/users")
    assert match(table, "/api/users/") == ("/api/users/", "/users/")
    assert match(table, "/api/users/1/x") == ("/api/users/", "/users/1/x")
    assert match(table, "/api/usersx") is None
    assert match(table, "/api") is None


def test_exact_matches_only_itself() -> None:
    table = router(spec("/health"))
    assert match(table, "/health") == ("/health", "/health")
    assert match(table, "/health/") is None  # a trailing slash is another path
    assert match(table, "/health/x") is None


def test_longest_prefix_wins_whatever_the_order() -> None:
    for specs in ([spec("/"), spec("/api/"), spec("/api/v1/")], [spec("/api/v1/"), spec("/api/"), spec("/")]):
        table = router(*specs)
        assert match(table, "/api/v1/x")[0] == "/api/v1/"  # type: ignore[index]
        assert match(table, "/api/v2/x")[0] == "/api/"  # type: ignore[index]
        assert match(table, "/other")[0] == "/"  # type: ignore[index]
        assert match(table, "/")[0] == "/"  # type: ignore[index]


def test_params_capture_and_substitute() -> None:
    table = router(
        spec("/users/{id}", rewrite="/u/{id}"),
        spec("/users/{id}/orders/{order}", rewrite="/orders/{order}?user={id}"),
        spec("/shops/{shop}/", rewrite="/s/{shop}/"),
    )
    found = table.match("GET", "/users/42/orders/7")
    assert isinstance(found, Match)
    assert found.params == {"id": "42", "order": "7"}
    assert found.upstream_path == "/orders/7?user=42"
    assert match(table, "/users/42") == ("/users/{id}", "/u/42")
    assert match(table, "/shops/s1/items/3") == ("/shops/{shop}/", "/s/s1/items/3")
    assert match(table, "/users/") is None  # a parameter needs a non-empty segment


def test_literal_segments_win_over_params() -> None:
    table = router(spec("/users/{id}", "param"), spec("/users/me", "literal"))
    assert match(table, "/users/me")[0] == "literal"  # type: ignore[index]
    assert match(table, "/users/you")[0] == "param"  # type: ignore[index]


def test_conflicting_param_names_at_one_position_are_refused() -> None:
    with pytest.raises(ValueError, match="conflicts"):
        router(spec("/users/{id}"), spec("/users/{name}/x"))


def test_methods_and_405_allow() -> None:
    table = router(
        spec("/items/", "read", methods=frozenset({"GET", "HEAD"})),
        spec("/items/", "delete", methods=frozenset({"DELETE"})),
    )
    assert match(table, "/items/1")[0] == "read"  # type: ignore[index]
    assert match(table, "/items/1", "DELETE")[0] == "delete"  # type: ignore[index]
    assert table.match("POST", "/items/1") == MethodNotAllowed(("DELETE", "GET", "HEAD"))


def test_a_shorter_route_that_accepts_the_method_beats_405() -> None:
    table = router(spec("/api/", "all"), spec("/api/admin/", "admin", methods=frozenset({"GET"})))
    assert match(table, "/api/admin/x", "POST")[0] == "all"  # type: ignore[index]


def test_host_routes_first_then_hostless() -> None:
    table = router(spec("/", "admin-root", host="admin.example"), spec("/api/", "api"), spec("/", "root"))
    assert match(table, "/api/x", host="admin.example")[0] == "admin-root"  # type: ignore[index]
    assert match(table, "/api/x", host="other")[0] == "api"  # type: ignore[index]
    assert match(table, "/api/x")[0] == "api"  # type: ignore[index]
    host_only = router(spec("/x/", "x", host="a.example"))
    assert match(host_only, "/x/1", host="b.example") is None


def test_ten_thousand_routes_match_in_constant_time() -> None:
    small = router(*(spec(f"/svc{i}/items/", f"r{i}") for i in range(10)))
    big = router(*(spec(f"/svc{i}/items/", f"r{i}") for i in range(10_000)))
    assert match(big, "/svc9999/items/1") == ("r9999", "/svc9999/items/1")
    assert match(big, "/svc5000/items/") == ("r5000", "/svc5000/items/")
    assert match(big, "/svc10000/items/1") is None

    def cost(table: Router[str], path: str) -> float:
        start = time.perf_counter()
        for _ in range(2000):
            table.match("GET", path)
        return time.perf_counter() - start

    # a tree, not a list: 1000x the routes must not cost anything like 1000x per match. Measured
    # interleaved, best of 9, so load from other processes hits both sides alike.
    small_cost = big_cost = float("inf")
    for _ in range(9):
        small_cost = min(small_cost, cost(small, "/svc9/items/1"))
        big_cost = min(big_cost, cost(big, "/svc9999/items/1"))
    assert big_cost < 4 * small_cost

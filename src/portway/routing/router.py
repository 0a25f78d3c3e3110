"""The compiled route table: a segment tree per host, so a match costs one dict look-up per path
segment however many routes there are.

Semantics (documented in docs/routing.md):
- ``path: /api/users/`` (trailing slash) is a prefix: it matches ``/api/users``, ``/api/users/`` and
  everything below. ``path: /api/users`` (no trailing slash) matches that path only.
- ``{name}`` matches one non-empty segment and captures it; literal segments win over parameters.
- The most specific route (most segments) that accepts the method wins; when routes match the
  path but none accepts the method, the result is 405 with their methods in ``Allow``.
- Routes with ``host`` are tried for that Host first, then host-less routes.
- ``rewrite`` replaces the matched part of the path; ``{name}`` in it is substituted.
- Letter case: matching is case-sensitive, and a path that a case-insensitive back end would read
  as another route's is refused. The table keeps a case-folded twin (literal segments lower-cased);
  when a path matches a route and its folded spelling matches another one in the twin (not one
  spelled the same but for case), :meth:`Router.match` raises :class:`BadTarget`. A path that
  matches no route (404, 405) is left alone: it is forwarded nowhere. With routes
  ``/api/admin/`` (auth) and ``/api/`` (public), ``/api/ADMIN/users`` is refused instead of being
  sent, unauthenticated, to a back end that may serve it as ``/api/admin/users``. The check is
  skipped when it cannot change the answer: no route has an upper-case letter and the path has none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from portway.routing.normalize import BadTarget

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RouteSpec(Generic[T]):
    path: str
    payload: T
    methods: frozenset[str] | None = None
    host: str | None = None
    rewrite: str | None = None


@dataclass(slots=True)
class _Node(Generic[T]):
    children: dict[str, _Node[T]] = field(default_factory=dict)
    param: _Node[T] | None = None
    param_name: str = ""
    prefix: list[RouteSpec[T]] = field(default_factory=list)
    exact: list[RouteSpec[T]] = field(default_factory=list)


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ is several times slower
class Match(Generic[T]):
    route: RouteSpec[T]
    upstream_path: str
    params: dict[str, str] | None


@dataclass(frozen=True, slots=True)
class MethodNotAllowed:
    allow: tuple[str, ...]


class Router(Generic[T]):
    """Immutable once built; a reload builds a new Router and swaps the reference."""

    def __init__(self, routes: Iterable[RouteSpec[T]], *, case_check: bool = True) -> None:
        self._default: _Node[T] = _Node()
        self._hosts: dict[str, _Node[T]] = {}
        specs = list(routes)
        for route in specs:
            root = self._default if route.host is None else self._hosts.setdefault(route.host, _Node())
            self._insert(root, route)
        # The case-folded twin: the same routes with lower-cased literal segments, each twin's
        # payload being the route it stands for. Built once; consulted only when it could disagree.
        self._folded: Router[RouteSpec[T]] | None = None
        self._upper_routes = False
        if case_check:
            twins = [RouteSpec(_fold(r.path), r, r.methods, r.host) for r in specs]
            self._upper_routes = any(t.path != t.payload.path for t in twins)
            self._folded = Router(twins, case_check=False)

    @staticmethod
    def _insert(root: _Node[T], route: RouteSpec[T]) -> None:
        node = root
        for segment in _segments(route.path.rstrip("/")):
            if segment.startswith("{"):
                if node.param is None:
                    node.param = _Node(param_name=segment[1:-1])
                elif node.param.param_name != segment[1:-1]:
                    # one name per position keeps captures unambiguous; renaming is not allowed
                    raise ValueError(
                        f"route {route.path}: parameter {segment} conflicts with "
                        f"{{{node.param.param_name}}} at the same position"
                    )
                node = node.param
            else:
                node = node.children.setdefault(segment, _Node())
        (node.prefix if route.path.endswith("/") else node.exact).append(route)

    @property
    def has_hosts(self) -> bool:
        return bool(self._hosts)

    def match(self, method: str, path: str, host: str | None = None) -> Match[T] | MethodNotAllowed | None:
        """The route for ``path``; raises :class:`BadTarget` when the path differs only in letter
        case from another route's (module rules)."""
        segments = _segments(path)
        allowed: set[str] = set()
        found: Match[T] | None = None
        if host is not None and self._hosts:
            node = self._hosts.get(host)
            if node is not None:
                found = self._walk(node, segments, method, path, allowed)
        if found is None:
            found = self._walk(self._default, segments, method, path, allowed)
        result = found if found is not None else MethodNotAllowed(tuple(sorted(allowed))) if allowed else None
        if found is not None and self._folded is not None and (self._upper_routes or path.lower() != path):
            self._check_case(method, path, host, found)
        return result

    def _check_case(self, method: str, path: str, host: str | None, found: Match[T]) -> None:
        """Only a path that would be forwarded is checked: a 404 or 405 sends nothing anywhere."""
        assert self._folded is not None
        folded = self._folded.match(method, path.lower(), host)
        if not isinstance(folded, Match):
            return  # cannot happen (the exact route's twin matches the folded path), but is harmless
        twin = folded.route
        if twin.payload is found.route or twin.path == _fold(found.route.path):
            # The same route, or one spelled like it but for case (an ambiguous table: the exact
            # spelling decides, as the operator wrote both).
            return
        raise BadTarget("the path differs only in letter case from another route's path")

    def _walk(
        self, root: _Node[T], segments: list[str], method: str, path: str, allowed: set[str]
    ) -> Match[T] | None:
        # Fast path: literal segments only, remembering the deepest route that accepts the method.
        # Parameters force the general search below (depth-first, literal before parameter).
        best: tuple[RouteSpec[T], int, list[str] | None] | None = None
        node = root
        depth = 0
        count = len(segments)
        while True:
            if node.param is not None:
                return self._search(root, segments, method, path, allowed)
            route = self._accepting(node, depth == count, method, allowed)
            if route is not None:
                best = (route, depth, None)
            if depth == count:
                break
            child = node.children.get(segments[depth])
            if child is None:
                break
            node = child
            depth += 1
        return self._result(best, segments, path)

    def _search(
        self, root: _Node[T], segments: list[str], method: str, path: str, allowed: set[str]
    ) -> Match[T] | None:
        best: tuple[RouteSpec[T], int, list[str] | None] | None = None
        stack: list[tuple[_Node[T], int, list[str] | None]] = [(root, 0, None)]
        while stack:
            node, depth, captured = stack.pop()
            if best is not None and depth <= best[1]:
                continue
            route = self._accepting(node, depth == len(segments), method, allowed)
            if route is not None:
                best = (route, depth, captured)
            if depth < len(segments):
                segment = segments[depth]
                if node.param is not None and segment:
                    stack.append((node.param, depth + 1, [*(captured or ()), segment]))
                child = node.children.get(segment)
                if child is not None:
                    stack.append((child, depth + 1, captured))
        return self._result(best, segments, path)

    @staticmethod
    def _accepting(node: _Node[T], at_end: bool, method: str, allowed: set[str]) -> RouteSpec[T] | None:
        candidates = node.exact + node.prefix if at_end and node.exact else node.prefix
        for route in candidates:
            if route.methods is None or method in route.methods:
                return route
            allowed.update(route.methods)
        return None

    @staticmethod
    def _result(
        best: tuple[RouteSpec[T], int, list[str] | None] | None, segments: list[str], path: str
    ) -> Match[T] | None:
        if best is None:
            return None
        route, depth, captured = best
        params = None
        if captured is not None:
            names = [s[1:-1] for s in _segments(route.path.rstrip("/")) if s.startswith("{")]
            params = dict(zip(names, captured, strict=True))
        return Match(route, _rewrite(route, path, segments, depth, params), params)


def _fold(path: str) -> str:
    """A route path with its literal segments lower-cased (``{Param}`` names are kept as written)."""
    return "/".join(s if s.startswith("{") else s.lower() for s in path.split("/"))


def _segments(path: str) -> list[str]:
    return path.split("/")[1:] if path != "/" and path else []


def _rewrite(
    route: RouteSpec[T], path: str, segments: list[str], depth: int, params: dict[str, str] | None
) -> str:
    if route.rewrite is None:
        return path
    matched = sum(len(s) + 1 for s in segments[:depth])
    rest = path[matched:]
    target = route.rewrite
    if params:
        for name, value in params.items():
            target = target.replace("{" + name + "}", value)
    if route.path.endswith("/"):
        target = target.rstrip("/") + rest
    return target or "/"

"""Checks across keys that pydantic cannot make field by field. Each problem is ``(loc, message)``,
the loc being the key to blame (the later of two keys that clash), so the loader can give its line.

They mirror rules the runtime would otherwise apply silently or fail on: the router's one parameter
name per position, the first of two identical routes winning, the connection's body limit applying
before a route's, a rate-limit key that can only ever see IP addresses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from portway.config.models import GatewayConfig

from portway.config.hostport import parse_hostport  # validated already: this cannot raise
from portway.config.transforms import canonical

Loc = tuple[int | str, ...]
Problems = list[tuple[Loc, str]]


def reference_errors(config: GatewayConfig) -> Problems:
    return [
        *_upstreams(config),
        *_auth(config),
        *_api_keys(config),
        *_shadowed(config),
        *_parameters(config),
        *_names_and_sizes(config),
        *_listeners(config),
        *_header_transforms(config),
    ]


def _listeners(config: GatewayConfig) -> Problems:
    problems: Problems = []
    if config.tls is not None and config.tls.redirect is not None:
        redirect = parse_hostport(config.tls.redirect.listen)
        if redirect[1] != 0 and redirect == parse_hostport(config.listen):
            problems.append((("tls", "redirect", "listen"), "must differ from the TLS listener's address"))
    if config.admin is None:
        return problems
    (host, port) = parse_hostport(config.listen)
    (admin_host, admin_port) = parse_hostport(config.admin.listen)
    if port != 0 and port == admin_port and host in (admin_host, "0.0.0.0", "::"):
        problems.append(
            (("admin",), f"the same port as `listen` ({config.listen}): one of them could not bind")
        )
    return problems


def _upstreams(config: GatewayConfig) -> Problems:
    known = ", ".join(sorted(config.upstreams)) or "none defined"
    errors: Problems = []
    for i, route in enumerate(config.routes):
        if route.upstream is None and route.aggregate is None:
            errors.append((("routes", i, "upstream"), "required key is missing"))
        elif route.upstream is not None and route.upstream not in config.upstreams:
            unknown = f"unknown upstream {route.upstream!r} (known: {known})"
            errors.append((("routes", i, "upstream"), unknown))
        for j, call in enumerate(route.aggregate.calls if route.aggregate is not None else ()):
            name = call.upstream or route.upstream
            loc: Loc = ("routes", i, "aggregate", "calls", j, "upstream")
            if name is None:
                errors.append((loc, "required key is missing (the route names no `upstream` to default to)"))
            elif name not in config.upstreams and call.upstream is not None:
                errors.append((loc, f"unknown upstream {name!r} (known: {known})"))
    for name, service in config.services.items():
        target = service.upstream or name
        if target not in config.upstreams:
            errors.append((("services", name, "upstream"), f"no upstream {target!r} to feed"))
    return errors


def _auth(config: GatewayConfig) -> Problems:
    errors: Problems = []
    has_auth = config.auth.jwt is not None or config.auth.api_keys is not None
    for i, route in enumerate(config.routes):
        mode = route.auth_mode(has_auth)
        if route.auth in ("required", "optional") and not has_auth:
            errors.append((("routes", i, "auth"), "needs `auth.jwt` or `auth.api_keys` configured"))
        if (route.roles or route.scopes) and mode == "none":
            errors.append((("routes", i, "roles"), "roles/scopes need authentication on the route"))
        rules = route.rate_limit if isinstance(route.rate_limit, list) else [route.rate_limit]
        for j, rule in enumerate(rules):
            if rule is None:
                continue
            loc: Loc = ("routes", i, "rate_limit", *((j,) if isinstance(route.rate_limit, list) else ()))
            parts = rule.key.split("+")
            # Anonymous requests fall back to their IP (rate_limit/keys.py): without authentication
            # on the route, `user` and `api_key` would silently be `ip`.
            if "user" in parts and mode == "none":
                errors.append(
                    (
                        (*loc, "key"),
                        "'user' needs authentication on the route (`auth: none` "
                        "here, so every request would be counted by its IP)",
                    )
                )
            if "api_key" in parts and (config.auth.api_keys is None or mode == "none"):
                errors.append(
                    (
                        (*loc, "key"),
                        "'api_key' needs `auth.api_keys` and authentication on "
                        "the route (else every request is counted by its IP)",
                    )
                )
    return errors


def _api_keys(config: GatewayConfig) -> Problems:
    if config.auth.api_keys is None:
        return []
    errors: Problems = []
    seen_keys: dict[str, int] = {}
    seen_names: dict[str, int] = {}
    for j, consumer in enumerate(config.auth.api_keys.consumers):
        loc: Loc = ("auth", "api_keys", "consumers", j)
        if (first := seen_keys.setdefault(consumer.key_sha256, j)) != j:
            errors.append(
                ((*loc, "key_sha256"), f"the same key as consumers[{first}]: one key, one consumer")
            )
        if (first := seen_names.setdefault(consumer.name, j)) != j:
            errors.append(((*loc, "name"), f"consumers[{first}] has this name too"))
    return errors


def _shadowed(config: GatewayConfig) -> Problems:
    """A route every one of whose methods an earlier route with the same host and path accepts:
    the router takes the first, so the later one would never see a request. (Splitting a path by
    method, GET to one route and the rest to another, is fine.)"""
    errors: Problems = []
    for j, later in enumerate(config.routes):
        taken: set[str] = set()
        first: int | None = None
        for i, earlier in enumerate(config.routes[:j]):
            if (earlier.host, earlier.path) == (later.host, later.path):
                taken |= set(earlier.methods) if earlier.methods is not None else {"*"}
                first = i if first is None else first
        covered = "*" in taken or (later.methods is not None and set(later.methods) <= taken)
        if first is not None and covered:
            errors.append(
                (
                    ("routes", j, "path"),
                    f"routes[{first}] has the same host and path and is matched "
                    "first for every method this route accepts: it would never see a request",
                )
            )
    return errors


def _parameters(config: GatewayConfig) -> Problems:
    """The router's rule: at one position of the tree (per host) a parameter has one name."""
    errors: Problems = []
    names: dict[tuple[str | None, tuple[str, ...]], tuple[str, int]] = {}
    for j, route in enumerate(config.routes):
        position: tuple[str, ...] = ()
        for segment in route.path.rstrip("/").split("/")[1:]:
            if segment.startswith("{"):
                name, first = names.setdefault((route.host, position), (segment, j))
                if name != segment:
                    errors.append(
                        (
                            ("routes", j, "path"),
                            f"parameter {segment} conflicts with {name} of "
                            f"routes[{first}] at the same position (one name per position)",
                        )
                    )
                    break
                segment = "{}"
            position = (*position, segment)
    return errors


def _names_and_sizes(config: GatewayConfig) -> Problems:
    errors: Problems = []
    named: dict[str, int] = {}
    for j, route in enumerate(config.routes):
        # Metrics and rate-limit buckets are kept by route name: two routes must not share one.
        if route.name is not None and (first := named.setdefault(route.name, j)) != j:
            errors.append((("routes", j, "name"), f"routes[{first}] has this name too: names must be unique"))
        if route.max_body is not None and route.max_body > config.limits.max_body:
            errors.append(
                (
                    ("routes", j, "max_body"),
                    f"larger than limits.max_body "
                    f"({config.limits.max_body} bytes), which applies first: raise that instead",
                )
            )
    return errors


__all__ = ["reference_errors"]


def _header_transforms(config: GatewayConfig) -> Problems:
    """A transform may not touch the identity headers configured under ``auth``: only the
    verified identity writes them (the fixed families are refused in config/transforms.py)."""
    identity = {canonical(h) for h in config.auth.identity.headers}
    if config.auth.jwt is not None:
        identity |= {canonical(h) for h in config.auth.jwt.claims_to_headers.values()}
    places: list[tuple[Loc, object]] = [(("headers",), config.headers)]
    places += [(("routes", i, "headers"), route.headers) for i, route in enumerate(config.routes)]
    problems: Problems = []
    for at, transforms in places:
        if not transforms:
            continue
        for side in ("request", "response"):
            edits = getattr(transforms, side)
            for key in ("set", "add", "remove"):
                for j, name in enumerate(getattr(edits, key)):
                    if canonical(name) in identity:
                        where = (*at, side, key, name if key != "remove" else j)
                        message = f"{name} is an identity header: only a verified credential sets it"
                        problems.append((where, message))
    return problems

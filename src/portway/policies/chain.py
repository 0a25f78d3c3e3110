"""Compiling a route's policy chain once, at load (STYLE.md §2-3): config in, a :class:`Chain` of
bound hooks out, in the order a request meets them (:data:`ORDER`, the one table of it):

    IP rules → CORS → authentication → authorisation → rate limit → identity headers
    → header transforms → cache → compression

IP rules first (a denied address learns nothing else); CORS before authentication so a browser's
preflight, which carries no credentials, is answered; the rate limit after authentication so it
can key on the user; identity headers from what was verified; header transforms after them, so
their templates read the verified identity (``${claims.sub}``). The cache after all of those: a
stored answer is only given to a request every check before it let through (a hit must not skip
an IP rule, a 401 or a 429). Compression last: its response hook runs first on the way back, so
the cache stores the encoded variant under its ``Vary: Accept-Encoding`` (a hit costs no
compression), and both store and encode the upstream's response before the edge policies (CORS,
header transforms) add per-client headers to it.

What routes share lives in :class:`SharedPolicyState`; a reload hands it over to the new gateway
when the relevant config is unchanged, so rate-limit buckets, verified-token caches and JWKS keys
survive ``SIGHUP``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from portway.cache import Cache, CacheState
from portway.compression.policy import Compression
from portway.config.cache import route_rule
from portway.config.compression import merge_compression
from portway.config.errors import ConfigError, ConfigProblem, ConfigValueError
from portway.config.models import GatewayConfig, Route
from portway.policies.api_key import ApiKeyAuthenticator
from portway.policies.authentication import Authentication
from portway.policies.authorize import Authorize
from portway.policies.base import Policy, RequestHook, ResponseHook
from portway.policies.cors import Cors
from portway.policies.headers import HeaderTransformPolicy
from portway.policies.identity_headers import IdentityHeaders
from portway.policies.ip_filter import IpFilter
from portway.policies.jwt_auth import JwtAuthenticator
from portway.policies.rate_limit import RateLimit, Store, open_store


class SharedPolicyState:
    """What the routes of one gateway share: authenticators (caches, JWKS) and the rate-limit store."""

    def __init__(self, config: GatewayConfig, previous: SharedPolicyState | None = None) -> None:
        auth = config.auth
        self.config = config
        self.jwt: JwtAuthenticator | None
        if previous is not None and previous.config.auth.jwt == auth.jwt:
            self.jwt = previous.jwt
        else:
            self.jwt = JwtAuthenticator(auth.jwt) if auth.jwt is not None else None
        self.api_keys = ApiKeyAuthenticator(auth.api_keys) if auth.api_keys is not None else None
        self.identity = IdentityHeaders(auth)
        self.has_auth = self.jwt is not None or self.api_keys is not None
        self._store: Store | None = None
        self.store_inherited = False
        if previous is not None and previous.config.rate_limit_store == config.rate_limit_store:
            self._store = previous._store
            self.store_inherited = True
        self._cache: CacheState | None = None
        self._cache_handed_over = False
        if previous is not None and previous.config.cache.store == config.cache.store:
            self._cache, previous._cache_handed_over = previous._cache, True

    @property
    def cache_state(self) -> CacheState | None:
        """The cache's store, opened by the first route that caches (None: none does yet)."""
        return self._cache

    def cache(self) -> CacheState:
        if self._cache is None:
            self._cache = CacheState(self.config.cache)
        return self._cache

    @property
    def store(self) -> Store:
        if self._store is None:
            try:
                self._store = open_store(self.config.rate_limit_store)
            except ValueError as exc:
                raise ConfigValueError(("rate_limit_store",), str(exc)) from None
        return self._store

    async def warm_up(self) -> None:
        if self.jwt is not None and self.jwt.keys.jwks_url is not None and self.jwt.keys.may_refresh():
            await self.jwt.keys.refresh()

    async def aclose(self) -> None:
        if self._store is not None:
            await self._store.aclose()
        if self._cache is not None and not self._cache_handed_over:
            await self._cache.store.aclose()


@dataclass(frozen=True, slots=True)
class Chain:
    """A route's compiled policies: request hooks in order, response hooks in reverse order."""

    policies: tuple[Policy, ...]
    request_hooks: tuple[RequestHook, ...]
    response_hooks: tuple[ResponseHook, ...]
    answers_preflight: bool  # a CORS policy answers OPTIONS preflights on this route
    names: tuple[str, ...] = ()  # the ORDER steps present, in order: what the admin API shows
    # Per policy, the response hooks of the policies before it (reverse order): what an answer it
    # gives itself (a cache hit) passes on its way out, as an upstream's answer would have.
    enclosing: tuple[tuple[ResponseHook, ...], ...] = ()


Builder = Callable[[Route, GatewayConfig, SharedPolicyState], Policy | None]


def _ip(route: Route, config: GatewayConfig, shared: SharedPolicyState) -> Policy | None:
    rules = route.ip if route.ip is not None else config.ip
    return IpFilter(rules) if rules is not None and (rules.allow or rules.deny) else None


def _cors(route: Route, config: GatewayConfig, shared: SharedPolicyState) -> Policy | None:
    cors = route.cors if route.cors is not None else config.cors
    return Cors(cors) if cors else None


def _auth(route: Route, config: GatewayConfig, shared: SharedPolicyState) -> Policy | None:
    if route.auth_mode(shared.has_auth) == "none":
        return None
    return Authentication(route.auth_mode(shared.has_auth) == "required", shared.jwt, shared.api_keys)


def _roles(route: Route, config: GatewayConfig, shared: SharedPolicyState) -> Policy | None:
    return Authorize(route.roles, route.scopes) if route.roles or route.scopes else None


def _rate_limit(route: Route, config: GatewayConfig, shared: SharedPolicyState) -> Policy | None:
    if not route.rate_limit:
        return None
    # Bucket keys name the route by path and methods: two routes on one path split by method
    # (GET and POST /api/products/) must not share buckets; an index would shift on every edit.
    key = route.display_name + ("|" + ",".join(sorted(route.methods)) if route.methods else "")
    return RateLimit(route.rate_limit, shared.store, route=key)


def _identity(route: Route, config: GatewayConfig, shared: SharedPolicyState) -> Policy | None:
    return shared.identity if route.auth_mode(shared.has_auth) != "none" else None


def _headers(route: Route, config: GatewayConfig, shared: SharedPolicyState) -> Policy | None:
    transforms = route.headers if route.headers is not None else config.headers
    return HeaderTransformPolicy(transforms) if transforms else None


def _compression(route: Route, config: GatewayConfig, shared: SharedPolicyState) -> Policy | None:
    merged = merge_compression(config.compression, route.compression)
    return Compression(merged) if merged is not None else None


def _cache(route: Route, config: GatewayConfig, shared: SharedPolicyState) -> Policy | None:
    if not route.cache:
        return None
    rule = route_rule(config.cache, route.cache)
    store = config.cache.store
    if store.backend == "memory" and rule.max_object > store.max_bytes:
        raise ValueError("max_object is larger than cache.store.max_bytes: no object would ever fit")
    state = shared.cache()
    return Cache(rule, state.store, state.inflight)


# The one place the order lives (DESIGN.md §1); the key names the config location in errors.
ORDER: tuple[tuple[str, Builder], ...] = (
    ("ip", _ip),
    ("cors", _cors),
    ("auth", _auth),
    ("roles", _roles),
    ("rate_limit", _rate_limit),
    ("identity", _identity),
    ("headers", _headers),
    ("cache", _cache),
    # Last, so its response hook runs first, nearest the upstream (response hooks run in reverse):
    # every hook after it (a cache's) sees the encoded reply with its Vary: Accept-Encoding and
    # weak ETag, so a cache stores the encoded variant under its Accept-Encoding secondary key and
    # a hit costs no compression. And its request hook runs after every denial: a body is decoded
    # only for a request that will be forwarded.
    ("compression", _compression),
)


def build_chain(
    index: int, route: Route, config: GatewayConfig, shared: SharedPolicyState, source: str
) -> Chain:
    """The route's policies; a policy that rejects its config becomes a located ConfigError."""
    policies: list[Policy] = []
    names: list[str] = []
    for step, builder in ORDER:
        try:
            policy = builder(route, config, shared)
        except ConfigValueError:
            raise  # it names its own key (a store, a key file): keep that, not this route's
        except ValueError as exc:
            raise ConfigError([ConfigProblem(source, None, f"routes[{index}].{step}", str(exc))]) from None
        if policy is not None:
            policies.append(policy)
            names.append(step)
    return Chain(
        tuple(policies),
        tuple(p.request for p in policies),
        _responders(policies),
        any(isinstance(p, Cors) for p in policies),
        tuple(names),
        tuple(_responders(policies[:i]) for i in range(len(policies))),
    )


def _responders(policies: list[Policy]) -> tuple[ResponseHook, ...]:
    return tuple(p.response for p in reversed(policies) if hasattr(p, "response"))

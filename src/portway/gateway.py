"""The compiled gateway: config in, a frozen runtime out (router, chains, upstreams, forwarding rules).

This object is the server's application: ``handle(head, responder)`` routes the request and returns
a decision (a refusal, an answer, or the :class:`~portway.forward.exchange.Exchange` that proxies
it). A reload builds a whole new :class:`Gateway` and swaps the server's reference to it; requests
already in flight keep the one they started with, and the old gateway's pools close their
connections as those requests finish (:meth:`retire`).
"""

from __future__ import annotations

from portway.config.models import GatewayConfig, Route
from portway.config.resilience import merge_retries
from portway.contract import Answer, Decision, RequestHead, Responder
from portway.errors import ClientError
from portway.forward.aggregate.exchange import AggregateExchange
from portway.forward.aggregate.plan import AggregatePlan
from portway.forward.exchange import Exchange
from portway.forward.retry import RetryPolicy
from portway.forward.route import RouteRuntime
from portway.forward.rules import ForwardingRules
from portway.policies.chain import SharedPolicyState, build_chain
from portway.routing import (
    BadTarget,
    Match,
    MethodNotAllowed,
    Router,
    RouteSpec,
    normalize_path,
    split_target,
)
from portway.server.tls import TlsContexts
from portway.sweeper import Sweeper
from portway.telemetry.access_log import AccessLog
from portway.telemetry.metrics import RequestMetrics
from portway.tracing import TracedExchange, Tracer
from portway.tracing.aggregate import TracedAggregateExchange
from portway.upstream import Upstream
from portway.upstream.connection import ResponseLimits

_ROUTE_CACHE_SIZE = 8192
_TRACE_HEADERS = ("traceparent", "tracestate")
_ALLOW_ANY = b"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
_AGGREGATE_METHODS = frozenset({"GET", "HEAD"})


class Gateway:
    def __init__(
        self,
        config: GatewayConfig,
        sweeper: Sweeper,
        access_log: AccessLog | None,
        previous: Gateway | None = None,
        source: str = "<config>",
        *,
        tls: TlsContexts,  # built by the caller first (server.tls.build_contexts): a bad certificate stops it
    ) -> None:
        self.config = config
        self.access_log = access_log
        self.metrics: RequestMetrics = previous.metrics if previous is not None else RequestMetrics()
        self.paths = config.paths
        # (method, raw path, host) → (normalised path, match): most traffic repeats a small set of
        # paths, and a hit skips normalisation and the tree walk. Cleared when full; per gateway,
        # so a reload starts afresh. Only successful matches are kept (404 scans cannot fill it).
        self._routes: dict[tuple[str, bytes, str | None], tuple[str, Match[RouteRuntime]]] = {}
        limits = ResponseLimits(config.limits.max_response_header_bytes, config.limits.max_response_headers)
        before = previous.upstreams if previous is not None else {}
        self.upstreams: dict[str, Upstream] = {
            name: Upstream(name, up, sweeper, limits, tls.upstreams.get(name), before.get(name))
            for name, up in config.upstreams.items()
        }
        inherited = previous.policy_state if previous is not None else None
        self.policy_state: SharedPolicyState = SharedPolicyState(config, inherited)
        # Every header the gateway may set from a credential is dropped from the client's request.
        mapped = list(config.auth.jwt.claims_to_headers.values()) if config.auth.jwt is not None else []
        api_keys = config.auth.api_keys
        self.rules = ForwardingRules(
            config.trusted_proxies,
            # A traced gateway sets traceparent/tracestate itself (the client's are its parent).
            [*config.auth.identity.headers, *mapped, *(_TRACE_HEADERS if config.tracing.enabled else ())],
            [api_keys.query] if api_keys is not None and api_keys.query else [],
            scheme="https" if config.tls is not None else "http",
            response_headers=(
                [(b"strict-transport-security", config.tls.hsts.header_value())]
                if config.tls is not None and config.tls.hsts is not None
                else []
            ),
        )
        self.runtimes = tuple(  # one per config route, in config order
            self._runtime(index, route, source) for index, route in enumerate(config.routes)
        )
        self.router: Router[RouteRuntime] = Router(
            RouteSpec(
                path=route.path,
                payload=runtime,
                methods=frozenset(route.methods) if route.methods else self._default_methods(route),
                host=route.host,
                rewrite=route.rewrite,
            )
            for route, runtime in zip(config.routes, self.runtimes, strict=True)
        )
        self._has_hosts = self.router.has_hosts  # read per request; the table never changes
        shortest = min((u.timeouts.read for u in config.upstreams.values()), default=30.0)
        sweeper.fit(min(shortest, min((u.timeouts.connect for u in config.upstreams.values()), default=2.0)))
        self.tracer = self._tracer(config, previous)  # last: a build that failed hands nothing over

    def _runtime(self, index: int, route: Route, source: str) -> RouteRuntime:
        chain = build_chain(index, route, self.config, self.policy_state, source)
        stats = self.metrics.for_route(route.display_name)
        aggregate = route.aggregate
        if aggregate is None:
            assert route.upstream is not None  # config/references.py: a route names its upstream
            upstream = self.upstreams[route.upstream]
            retry = self._retry_policy(route)
            return RouteRuntime(route.display_name, upstream, route.max_body, chain, stats, retry)
        plan = AggregatePlan(aggregate, route.upstream, self.upstreams)
        # The first call's upstream is the one the route is logged under; no body is taken (GET).
        return RouteRuntime(route.display_name, plan.calls[0].upstream, 0, chain, stats, aggregate=plan)

    @staticmethod
    def _default_methods(route: Route) -> frozenset[str] | None:
        return _AGGREGATE_METHODS if route.aggregate is not None else None

    def _tracer(self, config: GatewayConfig, previous: Gateway | None) -> Tracer | None:
        """The previous gateway's tracer when ``tracing:`` is unchanged (its queue goes on)."""
        old = previous.tracer if previous is not None else None
        if old is not None and old.config == config.tracing and previous is not None:
            previous.tracer = None  # handed over: its retire() must not stop it
            return old
        if not config.tracing.enabled:
            return None
        return Tracer(config.tracing, self.rules.is_trusted, "https" if config.tls is not None else "http")

    def _retry_policy(self, route: Route) -> RetryPolicy | None:
        assert route.upstream is not None
        upstream = self.upstreams[route.upstream]
        retries = merge_retries(upstream.config.retries, route.retries)
        if retries is None and route.timeout is None:
            return None
        budget = upstream.budget_for(retries.budget) if retries is not None else None
        return RetryPolicy.build(retries, budget, route.timeout)

    def start(self) -> None:
        """Start background work (active health checks); needs the running loop."""
        for upstream in self.upstreams.values():
            upstream.start()

    def handle(self, head: RequestHead, responder: Responder) -> Decision:
        target = head.target
        if target[:1] == b"/" and b"#" not in target:
            raw_path, _, query = target.partition(b"?")
        elif target == b"*":  # `OPTIONS *` (framing refuses `*` with other methods): about us
            return Answer(200, [(b"allow", _ALLOW_ANY)])
        else:
            try:
                raw_path, query = split_target(target)
            except BadTarget as exc:
                return ClientError(400, str(exc))
        host = self._host(head.host) if head.host and self._has_hosts else None
        key = (head.method, raw_path, host)
        cached = self._routes.get(key)
        if cached is None:
            try:
                paths = self.paths
                path = normalize_path(
                    raw_path,
                    paths.allow_encoded_slash,
                    paths.allow_semicolon,
                    allow_encoded_backslash=paths.allow_encoded_backslash,
                    allow_encoded_semicolon=paths.allow_encoded_semicolon,
                )
                found = self.router.match(head.method, path, host)
            except BadTarget as exc:
                return ClientError(400, str(exc))
            if isinstance(found, Match):
                if len(self._routes) >= _ROUTE_CACHE_SIZE:
                    self._routes.clear()
                self._routes[key] = cached = (path, found)
            else:
                refusal, preflight = self._unrouted(head, path, host, found)
                if preflight is None:
                    return refusal
                cached = (path, preflight)  # not cached: a preflight depends on its headers
        path, match = cached
        route = match.route.payload
        limit = route.max_body
        if limit is not None and head.content_length is not None and head.content_length > limit:
            return ClientError(413, f"request body larger than {limit} bytes")
        tracer = self.tracer
        if route.aggregate is not None:
            exchange = self._aggregate_exchange(tracer, match, head, responder, route, path, query)
        elif tracer is None:
            exchange = Exchange(
                head, responder, route, path, match.upstream_path, query, self.rules, self.access_log
            )
        else:
            exchange = TracedExchange(
                tracer, match.route.path, head, responder, route, path, match.upstream_path, query,
                self.rules, self.access_log,
            )  # fmt: skip
        denial = exchange.start()
        return exchange if denial is None else denial

    def _aggregate_exchange(
        self,
        tracer: Tracer | None,
        match: Match[RouteRuntime],
        head: RequestHead,
        responder: Responder,
        route: RouteRuntime,
        path: str,
        query: bytes,
    ) -> Exchange:
        args = (head, responder, route, path, match.upstream_path, query, self.rules, self.access_log)
        if tracer is None:
            return AggregateExchange(*args)
        return TracedAggregateExchange(tracer, match.route.path, *args)

    def _unrouted(
        self, head: RequestHead, path: str, host: str | None, found: MethodNotAllowed | None
    ) -> tuple[ClientError, Match[RouteRuntime] | None]:
        """The refusal (404/405), or the route a CORS preflight is about."""
        if found is None:
            return ClientError(404, "no route matches this request"), None
        preflight = self._preflight_route(head, path, host)
        allow = ", ".join(found.allow).encode()
        return ClientError(405, f"{head.method} is not allowed here", [(b"allow", allow)]), preflight

    @staticmethod
    def _host(raw: bytes) -> str:
        name = raw.lower()
        if name[-1:].isdigit() and b":" in name and not name.endswith(b"]"):
            name = name.rpartition(b":")[0]
        return name.decode("latin-1")

    def _preflight_route(self, head: RequestHead, path: str, host: str | None) -> Match[RouteRuntime] | None:
        """A CORS preflight is an OPTIONS request about another method: route it by that method
        when the route it would reach answers preflights (and never forwards them)."""
        if head.method != "OPTIONS":
            return None
        requested = head.header(b"access-control-request-method")
        if requested is None or head.header(b"origin") is None:
            return None
        try:
            match = self.router.match(requested.decode("latin-1").strip().upper(), path, host)
        except BadTarget:
            return None
        if isinstance(match, Match) and match.route.payload.chain.answers_preflight:
            return match
        return None

    def snapshot(self) -> dict[str, object]:
        """What the admin API shows of this gateway: routes and upstream targets."""
        return {
            "requests": sum(sum(stats.statuses.values()) for stats in self.metrics.routes.values()),
            "routes": [r.display_name for r in self.config.routes],
            "upstreams": {name: upstream.snapshot() for name, upstream in self.upstreams.items()},
            "upstream_state": {name: upstream.summary() for name, upstream in self.upstreams.items()},
        }

    def route_table(self) -> list[dict[str, object]]:
        """What the admin API shows of each route, in config order: how it matches, where it goes,
        and its policies in the order a request meets them."""
        return [
            {
                "name": route.display_name,
                "match": {"path": route.path, "host": route.host, "methods": route.methods},
                "rewrite": route.rewrite,
                "upstream": route.upstream,
                "policies": list(runtime.chain.names),
            }
            for route, runtime in zip(self.config.routes, self.runtimes, strict=True)
        ]

    def retire(self) -> None:
        for upstream in self.upstreams.values():
            upstream.retire()
        if self.tracer is not None:
            self.tracer.stop()  # exports what is queued, then its thread ends (joined at shutdown)

"""The compiled gateway: config in, a frozen runtime out (router, upstreams, access log).

This object is the server's application. A reload builds a whole new :class:`Gateway` and swaps the
server's reference to it; requests already in flight keep the one they started with, and the old
gateway's pools close their connections as those requests finish (:meth:`retire`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

from portway.config.models import GatewayConfig
from portway.headers import GATEWAY_SET, HOP_BY_HOP
from portway.policies.base import Policy
from portway.policies.chain import SharedPolicyState, build_chain
from portway.policies.cors import Cors
from portway.proxy import Exchange
from portway.routing import (
    BadTarget,
    Match,
    MethodNotAllowed,
    Router,
    RouteSpec,
    normalize_path,
    split_target,
)
from portway.server.protocol import HttpConnection
from portway.server.request import RequestHead
from portway.server.state import ANSWERED, Handler
from portway.sweeper import Sweeper
from portway.telemetry.access_log import AccessLog
from portway.telemetry.metrics import RequestMetrics, RouteStats
from portway.upstream import Upstream

_ROUTE_CACHE_SIZE = 8192


@dataclass(frozen=True, slots=True)
class RouteRuntime:
    name: str
    upstream: Upstream
    max_body: int | None
    policies: tuple[Policy, ...]
    stats: RouteStats


class Gateway:
    def __init__(
        self,
        config: GatewayConfig,
        sweeper: Sweeper,
        access_log: AccessLog | None,
        previous: Gateway | None = None,
        source: str = "<config>",
    ) -> None:
        self.config = config
        self.access_log = access_log
        self.metrics: RequestMetrics = previous.metrics if previous is not None else RequestMetrics()
        self.draining = False
        self.allow_encoded_slash = config.paths.allow_encoded_slash
        self.allow_semicolon = config.paths.allow_semicolon
        # (method, raw path, host) → (normalised path, match): most traffic repeats a small set of
        # paths, and a hit skips normalisation and the tree walk. Cleared when full; per gateway,
        # so a reload starts afresh. Only successful matches are kept (404 scans cannot fill it).
        self._routes: dict[tuple[str, bytes, str | None], tuple[str, Match[RouteRuntime]]] = {}
        self.upstreams = {name: Upstream(name, up, sweeper) for name, up in config.upstreams.items()}
        inherited = previous.policy_state if previous is not None else None
        self.policy_state: SharedPolicyState = SharedPolicyState(config, inherited)
        # Every header the gateway may set from a credential is dropped from the client's request.
        mapped = list(config.auth.jwt.claims_to_headers.values()) if config.auth.jwt is not None else []
        identity = [*config.auth.identity.headers, *mapped, "X-Portway-Identity"]
        self.drop_request_headers = HOP_BY_HOP | GATEWAY_SET | {h.lower().encode() for h in identity}
        self.router: Router[RouteRuntime] = Router(
            RouteSpec(
                path=route.path,
                payload=RouteRuntime(
                    route.display_name,
                    self.upstreams[route.upstream],
                    route.max_body,
                    build_chain(index, route, config, self.policy_state, source),
                    self.metrics.for_route(route.display_name),
                ),
                methods=frozenset(route.methods) if route.methods else None,
                host=route.host,
                rewrite=route.rewrite,
            )
            for index, route in enumerate(config.routes)
        )
        networks = [ipaddress.ip_network(cidr, strict=False) for cidr in config.trusted_proxies]
        self._trusted = networks
        self.is_trusted = lru_cache(maxsize=4096)(self._check_trusted) if networks else _never
        shortest = min((u.timeouts.read for u in config.upstreams.values()), default=30.0)
        sweeper.fit(min(shortest, min((u.timeouts.connect for u in config.upstreams.values()), default=2.0)))

    def client_ip(self, head: RequestHead) -> str:
        peer = head.client_ip
        if not self._trusted or not self.is_trusted(peer):
            return peer
        entries: list[str] = []
        for name, value in head.headers:
            if name == b"x-forwarded-for":
                entries += (e.strip() for e in value.decode("latin-1").split(","))
        # Right to left: each trusted proxy vouches for the entry before it; the first address not
        # in trusted_proxies is the client. Anything further left was written by the client.
        for entry in reversed(entries):
            if entry and not self.is_trusted(entry):
                return entry
        return entries[0] if entries and entries[0] else peer

    def _check_trusted(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in network for network in self._trusted)

    def handle(self, head: RequestHead, conn: HttpConnection) -> Handler:
        target = head.target
        if target[:1] == b"/" and b"#" not in target:
            raw_path, _, query = target.partition(b"?")
        else:
            try:
                raw_path, query = split_target(target)
            except BadTarget as exc:
                conn.refuse(400, str(exc), head)
                return ANSWERED
        host = self._host(head.host) if head.host and self.router.has_hosts else None
        key = (head.method, raw_path, host)
        cached = self._routes.get(key)
        if cached is None:
            try:
                path = normalize_path(raw_path, self.allow_encoded_slash, self.allow_semicolon)
            except BadTarget as exc:
                conn.refuse(400, str(exc), head)
                return ANSWERED
            found = self.router.match(head.method, path, host)
            if isinstance(found, Match):
                if len(self._routes) >= _ROUTE_CACHE_SIZE:
                    self._routes.clear()
                self._routes[key] = cached = (path, found)
            else:
                preflight = self._unrouted(head, conn, path, host, found)
                if preflight is None:
                    return ANSWERED
                cached = (path, preflight)  # not cached: a preflight depends on its headers
        path, match = cached
        route = match.route.payload
        if (
            route.max_body is not None
            and head.content_length is not None
            and head.content_length > route.max_body
        ):
            conn.refuse(413, f"request body larger than {route.max_body} bytes", head)
            return ANSWERED
        exchange = Exchange(self, head, conn, route, path, match.upstream_path, query)
        exchange.start()
        return exchange

    def _unrouted(
        self,
        head: RequestHead,
        conn: HttpConnection,
        path: str,
        host: str | None,
        found: MethodNotAllowed | None,
    ) -> Match[RouteRuntime] | None:
        """The route a CORS preflight is about, or None once the request is answered (404/405)."""
        if found is None:
            conn.refuse(404, "no route matches this request", head)
            return None
        preflight = self._preflight_route(head, path, host)
        if preflight is None:
            allow = ", ".join(found.allow).encode()
            conn.refuse(405, f"{head.method} is not allowed here", head, headers=[(b"allow", allow)])
        return preflight

    @staticmethod
    def _host(raw: bytes) -> str:
        name = raw.lower()
        if name[-1:].isdigit() and b":" in name and not name.endswith(b"]"):
            name = name.rpartition(b":")[0]
        return name.decode("latin-1")

    def _preflight_route(self, head: RequestHead, path: str, host: str | None) -> Match[RouteRuntime] | None:
        """A CORS preflight is an OPTIONS request about another method: route it by that method
        when the route it would reach has a CORS policy to answer it (and never forwards it)."""
        if head.method != "OPTIONS":
            return None
        requested = head.header(b"access-control-request-method")
        if requested is None or head.header(b"origin") is None:
            return None
        match = self.router.match(requested.decode("latin-1").strip().upper(), path, host)
        if isinstance(match, Match) and any(isinstance(p, Cors) for p in match.route.payload.policies):
            return match
        return None

    def retire(self) -> None:
        for upstream in self.upstreams.values():
            upstream.retire()


def _never(ip: str) -> bool:
    return False

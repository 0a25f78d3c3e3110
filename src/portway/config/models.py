"""The gateway's config as pydantic models: the contract of the YAML file (DESIGN.md §2).

Every model forbids unknown keys, so a typo is an error with its line, never a silent default.
Defaults are chosen to be safe for a public listener and are documented in docs/config.md.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from portway.config.admin import AdminListener
from portway.config.aggregate import Aggregate
from portway.config.cache import CacheDefaults, CacheRule
from portway.config.compression import Compression, RouteCompression
from portway.config.hostport import parse_hostport
from portway.config.local import ServiceConfig
from portway.config.models_base import Model
from portway.config.resilience import Breaker, Discovery, HealthCheck, Outlier, Retries, RouteRetries
from portway.config.security import (
    AuthConfig,
    CidrList,
    CorsConfig,
    IpRules,
    MethodList,
    RateLimitRule,
    RateLimitStore,
)
from portway.config.tls import ListenerTls, UpstreamTls
from portway.config.tracing import Tracing
from portway.config.transforms import HeaderTransforms
from portway.config.units import Duration, PositiveDuration, PositiveSize, Size

_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
_TARGET = re.compile(r"^(https?://[^/\s?#]+(:\d+)?/?|unix:/\S+)$")
_PARAM_SEGMENT = re.compile(r"^\{[A-Za-z_][A-Za-z0-9_]*\}$")


class Limits(Model):
    """Per-connection protocol limits (see docs/config.md for why each default)."""

    max_request_line: PositiveSize = 8 * 1024
    max_header_bytes: PositiveSize = 32 * 1024
    max_headers: int = Field(default=100, ge=1)
    max_body: Size = 10 * 1024**2  # 0 is a choice: a gateway for bodiless requests
    header_timeout: PositiveDuration = 10.0
    body_timeout: PositiveDuration = 30.0
    keepalive_timeout: Duration = 75.0
    max_connections: int = Field(default=20_000, ge=1)
    # An upstream response head past either limit is a 502 and the upstream connection is closed.
    max_response_header_bytes: Size = 64 * 1024
    max_response_headers: int = Field(default=200, ge=1)


class AccessLog(Model):
    enabled: bool = True
    path: str = "stdout"
    flush_interval: Duration = 0.2

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("cannot be empty: a file path, or stdout")
        return value

    @field_validator("flush_interval")
    @classmethod
    def _flush(cls, value: float) -> float:
        if value < 0.01:
            raise ValueError("must be at least 10ms (the log thread wakes up this often)")
        return value


class Paths(Model):
    """Path normalisation rules applied before routing (docs/routing.md). Each option lets through
    one spelling that is refused with 400 by default because back ends disagree on what it means;
    an allowed escape is forwarded encoded. Encoded control bytes are refused whatever is set."""

    allow_encoded_slash: bool = False  # %2F inside a segment (some back ends decode it to '/')
    allow_encoded_backslash: bool = False  # %5C (some back ends decode it, then read '\\' as '/')
    allow_encoded_semicolon: bool = False  # %3B (decoded, then stripped as a ';param' by some)
    allow_semicolon: bool = False  # ';' (matrix parameters) in paths; off: back ends disagree on it


class Timeouts(Model):
    connect: PositiveDuration = 2.0
    read: PositiveDuration = 30.0  # until the response starts, and between its chunks


class Pool(Model):
    max_connections: int = Field(default=512, ge=1)
    idle_timeout: Duration = 60.0
    acquire_timeout: Duration = 5.0


class Upstream(Model):
    targets: list[str] = Field(min_length=0)
    balance: Literal["round_robin", "least_conn", "hash", "ewma"] = "round_robin"
    hash_on: str = "ip"
    preserve_host: bool = False
    timeouts: Timeouts = Timeouts()
    pool: Pool = Pool()
    tls: UpstreamTls = UpstreamTls()  # applies to its https:// targets
    # Resilience (config/resilience.py, docs/resilience.md): all off unless set.
    health: HealthCheck | None = None
    outlier: Outlier | None = None
    breaker: Breaker | None = None
    retries: Retries | None = None
    max_concurrent: int | None = Field(default=None, ge=1)  # requests in flight; beyond: a fast 503
    discovery: Discovery | Literal[False] = Discovery()  # hostname targets → their addresses

    @field_validator("targets")
    @classmethod
    def _targets(cls, targets: list[str]) -> list[str]:
        for target in targets:
            if not _TARGET.match(target):
                raise ValueError(
                    f"invalid target {target!r}: expected http://host:port, https://host:port or unix:/path"
                )
            if target.startswith(("http://", "https://")):
                host, _, port = target.partition("://")[2].rstrip("/").rpartition(":")
                if not host.strip("[]") and port.isdigit():
                    raise ValueError(f"invalid target {target!r}: no host")
                if port.isdigit() and host and not 1 <= int(port) <= 65535:
                    raise ValueError(f"invalid target {target!r}: the port must be from 1 to 65535")
        return targets

    @model_validator(mode="after")
    def _hash_only(self) -> Upstream:
        if self.changed({"hash_on"}) and self.balance != "hash":
            raise ValueError("hash_on is only used with `balance: hash`")
        return self

    @field_validator("hash_on")
    @classmethod
    def _hash_on(cls, value: str) -> str:
        if value != "ip" and not re.match(r"^header:[A-Za-z0-9!#$%&'*+.^_`|~-]+$", value):
            raise ValueError("hash_on must be 'ip' or 'header:<Header-Name>'")
        return value


class Route(Model):
    path: str
    upstream: str | None = None  # required unless `aggregate` names each call's (config/references.py)
    host: str | None = None
    methods: list[str] | None = None
    rewrite: str | None = None
    max_body: Size | None = None
    name: str | None = None
    auth: Literal["required", "optional", "none"] | None = None  # default: required when auth is set up
    roles: MethodList | None = None  # any of these roles; or {METHOD: [roles]}
    scopes: MethodList | None = None  # all of these scopes; or {METHOD: [scopes]}
    rate_limit: RateLimitRule | Annotated[list[RateLimitRule], Field(min_length=1)] | None = None
    cors: CorsConfig | Literal[False] | None = None  # None: the gateway-wide `cors`, False: off
    ip: IpRules | None = None
    retries: RouteRetries | None = None  # overrides the upstream's keys it sets; false: none
    timeout: Duration | None = Field(default=None, gt=0)  # total deadline over every attempt
    headers: HeaderTransforms | Literal[False] | None = None  # None: the gateway-wide `headers`
    aggregate: Aggregate | None = None  # answer with JSON merged from parallel calls (GET, HEAD)
    compression: RouteCompression | None = None  # None: the top-level `compression`, False: off
    cache: CacheRule | Literal[False] | None = None  # RFC 9111 response cache (docs/cache.md); off unless set

    @field_validator("path", "rewrite")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value

    @field_validator("methods")
    @classmethod
    def _methods(cls, methods: list[str] | None) -> list[str] | None:
        if methods is None:
            return None
        if not methods:
            # The router reads "no methods" as "every method": an empty list must not mean that.
            raise ValueError("list at least one method, or leave `methods` out to allow all")
        upper = [m.upper() for m in methods]
        unknown = sorted(set(upper) - _METHODS)
        if unknown:
            raise ValueError(f"unknown method(s) {', '.join(unknown)}")
        return upper

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        return value.lower() if value else None

    @model_validator(mode="after")
    def _segments(self) -> Route:
        params = []
        for segment in self.path.strip("/").split("/"):
            if "{" in segment or "}" in segment:
                if not _PARAM_SEGMENT.match(segment):
                    raise ValueError(
                        f"path: a parameter must be a whole segment like {{id}}, got {segment!r}"
                    )
                params.append(segment[1:-1])
        if len(set(params)) != len(params):
            raise ValueError("path: a parameter name is used twice")
        for name in re.findall(r"\{([^}]*)\}", self.rewrite or ""):
            if name not in params:
                raise ValueError(f"rewrite: {{{name}}} is not a parameter of the path")
        return self

    @model_validator(mode="after")
    def _aggregate_only(self) -> Route:
        if self.aggregate is None:
            return self
        if self.methods is not None and set(self.methods) - {"GET", "HEAD"}:
            raise ValueError("methods: an aggregate route answers GET and HEAD only")
        for key in ("rewrite", "retries", "max_body"):
            if getattr(self, key) is not None:
                raise ValueError(f"{key}: not used by an aggregate route (its calls name their paths)")
        return self

    @property
    def display_name(self) -> str:
        return self.name or self.path

    def auth_mode(self, gateway_has_auth: bool) -> str:
        return self.auth or ("required" if gateway_has_auth else "none")

    @field_validator("roles", "scopes")
    @classmethod
    def _per_method(cls, value: MethodList | None) -> MethodList | None:
        # An empty list requires nothing: written out, it reads as a requirement that is not there.
        lists = value.values() if isinstance(value, dict) else [value] if value is not None else []
        if value is not None and (not value or not all(lists)):
            raise ValueError("an empty list requires nothing: name at least one, or leave the key out")
        if isinstance(value, dict):
            unknown = sorted({m.upper() for m in value} - _METHODS)
            if unknown:
                raise ValueError(f"unknown method(s) {', '.join(unknown)}")
            return {m.upper(): v for m, v in value.items()}
        return value


class GatewayConfig(Model):
    listen: str = "0.0.0.0:8080"
    admin: AdminListener | None = None  # `HOST:PORT` or {listen, token} (config/admin.py)
    tls: ListenerTls | None = None  # the listener speaks HTTPS (docs/tls.md)
    limits: Limits = Limits()
    paths: Paths = Paths()
    access_log: AccessLog = AccessLog()
    tracing: Tracing = Tracing()  # OpenTelemetry spans over OTLP/HTTP (docs/tracing.md); off by default
    shutdown_grace: Duration = 10.0
    trusted_proxies: CidrList = []
    auth: AuthConfig = AuthConfig()
    rate_limit_store: RateLimitStore = RateLimitStore()
    cache: CacheDefaults = CacheDefaults()  # the cache's store and its routes' defaults (docs/cache.md)
    cors: CorsConfig | None = None
    ip: IpRules | None = None
    headers: HeaderTransforms | None = None  # header transforms for routes without their own
    compression: Compression | None = None  # defaults for every route; off when not set
    upstreams: dict[str, Upstream] = {}
    routes: list[Route] = []
    services: dict[str, ServiceConfig] = {}  # used by `portway up` only

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted(cls, cidrs: list[str]) -> list[str]:
        for cidr in cidrs:
            if ipaddress.ip_network(cidr, strict=False).prefixlen == 0:
                raise ValueError(
                    f"{cidr} trusts every address: any client could pick its IP (X-Forwarded-For)"
                )
        return cidrs

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_hostport(value)
        return value

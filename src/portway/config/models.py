"""The gateway's config as pydantic models: the contract of the YAML file (DESIGN.md §2).

Every model forbids unknown keys, so a typo is an error with its line, never a silent default.
Defaults are chosen to be safe for a public listener and are documented in docs/config.md.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from portway.config.local import ServiceConfig
from portway.config.models_base import Model
from portway.config.resilience import Breaker, HealthCheck, Outlier, Retries, RouteRetries
from portway.config.security import (
    AuthConfig,
    CidrList,
    CorsConfig,
    IpRules,
    MethodList,
    RateLimitRule,
    RateLimitStore,
)
from portway.config.units import Duration, Size

_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
_TARGET = re.compile(r"^(http://[^/\s?#]+(:\d+)?/?|unix:/\S+)$")
_PARAM_SEGMENT = re.compile(r"^\{[A-Za-z_][A-Za-z0-9_]*\}$")


def parse_hostport(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


class Limits(Model):
    """Per-connection protocol limits (see docs/config.md for why each default)."""

    max_request_line: Size = 8 * 1024
    max_header_bytes: Size = 32 * 1024
    max_headers: int = Field(default=100, ge=1)
    max_body: Size = 10 * 1024**2
    header_timeout: Duration = 10.0
    body_timeout: Duration = 30.0
    keepalive_timeout: Duration = 75.0
    max_connections: int = Field(default=20_000, ge=1)
    # An upstream response head past either limit is a 502 and the upstream connection is closed.
    max_response_header_bytes: Size = 64 * 1024
    max_response_headers: int = Field(default=200, ge=1)


class AccessLog(Model):
    enabled: bool = True
    path: str = "stdout"
    flush_interval: Duration = 0.2


class Paths(Model):
    """Path normalisation rules applied before routing."""

    allow_encoded_slash: bool = False
    allow_semicolon: bool = False  # ';' (matrix parameters) in paths; off: back ends disagree on it


class Timeouts(Model):
    connect: Duration = 2.0
    read: Duration = 30.0
    write: Duration = 30.0


class Pool(Model):
    max_connections: int = Field(default=512, ge=1)
    idle_timeout: Duration = 60.0
    acquire_timeout: Duration = 5.0


class Upstream(Model):
    targets: list[str] = Field(min_length=0)
    balance: Literal["round_robin", "least_conn", "hash"] = "round_robin"
    hash_on: str = "ip"
    preserve_host: bool = False
    timeouts: Timeouts = Timeouts()
    pool: Pool = Pool()
    # Resilience (config/resilience.py, docs/resilience.md): all off unless set.
    health: HealthCheck | None = None
    outlier: Outlier | None = None
    breaker: Breaker | None = None
    retries: Retries | None = None
    max_concurrent: int | None = Field(default=None, ge=1)  # requests in flight; beyond: a fast 503

    @field_validator("targets")
    @classmethod
    def _targets(cls, targets: list[str]) -> list[str]:
        for target in targets:
            if not _TARGET.match(target):
                raise ValueError(f"invalid target {target!r}: expected http://host:port or unix:/path")
        return targets

    @field_validator("hash_on")
    @classmethod
    def _hash_on(cls, value: str) -> str:
        if value != "ip" and not re.match(r"^header:[A-Za-z0-9!#$%&'*+.^_`|~-]+$", value):
            raise ValueError("hash_on must be 'ip' or 'header:<Header-Name>'")
        return value


class Route(Model):
    path: str
    upstream: str
    host: str | None = None
    methods: list[str] | None = None
    rewrite: str | None = None
    max_body: Size | None = None
    name: str | None = None
    auth: Literal["required", "optional", "none"] | None = None  # default: required when auth is set up
    roles: MethodList | None = None  # any of these roles; or {METHOD: [roles]}
    scopes: MethodList | None = None  # all of these scopes; or {METHOD: [scopes]}
    rate_limit: RateLimitRule | list[RateLimitRule] | None = None
    cors: CorsConfig | Literal[False] | None = None  # None: the gateway-wide `cors`, False: off
    ip: IpRules | None = None
    retries: RouteRetries | None = None  # overrides the upstream's keys it sets; false: none
    timeout: Duration | None = Field(default=None, gt=0)  # total deadline over every attempt

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

    @property
    def display_name(self) -> str:
        return self.name or self.path

    def auth_mode(self, gateway_has_auth: bool) -> str:
        return self.auth or ("required" if gateway_has_auth else "none")

    @field_validator("roles", "scopes")
    @classmethod
    def _per_method(cls, value: MethodList | None) -> MethodList | None:
        if isinstance(value, dict):
            unknown = sorted({m.upper() for m in value} - _METHODS)
            if unknown:
                raise ValueError(f"unknown method(s) {', '.join(unknown)}")
            return {m.upper(): v for m, v in value.items()}
        return value


class GatewayConfig(Model):
    listen: str = "0.0.0.0:8080"
    admin: str | None = None
    limits: Limits = Limits()
    paths: Paths = Paths()
    access_log: AccessLog = AccessLog()
    shutdown_grace: Duration = 10.0
    trusted_proxies: CidrList = []
    auth: AuthConfig = AuthConfig()
    rate_limit_store: RateLimitStore = RateLimitStore()
    cors: CorsConfig | None = None
    ip: IpRules | None = None
    upstreams: dict[str, Upstream] = {}
    routes: list[Route] = []
    services: dict[str, ServiceConfig] = {}  # used by `portway up` only

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_hostport(value)
        return value

    @field_validator("admin")
    @classmethod
    def _admin(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, _ = parse_hostport(value)
        if not ipaddress.ip_address(host if host != "localhost" else "127.0.0.1").is_loopback:
            raise ValueError("the admin listener must be on a loopback address (127.0.0.1 or ::1)")
        return value

    def reference_errors(self) -> list[tuple[tuple[int | str, ...], str]]:
        """Cross-references pydantic cannot see field by field, each with the location to blame."""
        known = ", ".join(sorted(self.upstreams)) or "none defined"
        errors: list[tuple[tuple[int | str, ...], str]] = [
            (("routes", i, "upstream"), f"unknown upstream {route.upstream!r} (known: {known})")
            for i, route in enumerate(self.routes)
            if route.upstream not in self.upstreams
        ]
        for name, service in self.services.items():
            target = service.upstream or name
            if target not in self.upstreams:
                errors.append((("services", name, "upstream"), f"no upstream {target!r} to feed"))
        has_auth = self.auth.jwt is not None or self.auth.api_keys is not None
        for i, route in enumerate(self.routes):
            if route.auth in ("required", "optional") and not has_auth:
                errors.append((("routes", i, "auth"), "needs `auth.jwt` or `auth.api_keys` configured"))
            if (route.roles or route.scopes) and route.auth_mode(has_auth) == "none":
                errors.append((("routes", i, "roles"), "roles/scopes need authentication on the route"))
        return errors

"""Config models for the edge-security policies (docs/security.md): authentication (JWT, API keys),
identity propagation, authorisation, rate limiting, CORS and IP rules."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from portway.config.models_base import Model
from portway.config.units import Duration, Size

JWT_ALGORITHMS = ("HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                  "ES256", "ES384", "ES512", "EdDSA")  # fmt: skip
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


def _header_name(value: str) -> str:
    if not _HEADER_NAME.match(value):
        raise ValueError(f"invalid header name {value!r}")
    return value


class JwtConfig(Model):
    algorithms: list[Literal[JWT_ALGORITHMS]] = Field(min_length=1)  # type: ignore[valid-type]
    jwks_url: str | None = None
    jwks_timeout: Duration = 2.0
    jwks_refresh_interval: Duration = 60.0  # at most one refresh per interval on an unknown kid
    jwks_max_age: Duration = 600.0  # background refresh even when every kid is known
    public_keys: list[str] = []  # PEM files
    secret: str | None = None  # HS* shared secret (use ${ENV})
    issuer: str | None = None
    audience: str | list[str] | None = None
    leeway: Duration = 30.0
    required_claims: list[str] = ["exp"]
    cookie: str | None = None  # also accept the token from this cookie
    max_token_size: Size = 8 * 1024
    cache_size: int = Field(default=100_000, ge=0)
    claims_to_headers: dict[str, str] = {"sub": "X-User-Id", "role": "X-User-Role", "scope": "X-User-Scopes"}
    roles_claim: str = "role"
    scopes_claim: str = "scope"

    @model_validator(mode="after")
    def _keys(self) -> JwtConfig:
        hmac = any(a.startswith("HS") for a in self.algorithms)
        asym = any(not a.startswith("HS") for a in self.algorithms)
        if hmac and not self.secret:
            raise ValueError("HS* algorithms need `secret`")
        if asym and not (self.jwks_url or self.public_keys):
            raise ValueError("RS/PS/ES/EdDSA algorithms need `jwks_url` or `public_keys`")
        if self.secret and asym and not hmac:
            raise ValueError("`secret` is only used with HS* algorithms")
        for header in self.claims_to_headers.values():
            _header_name(header)
        return self


class ApiKeyConsumer(Model):
    name: str
    key_sha256: str
    roles: list[str] = []
    scopes: list[str] = []

    @field_validator("key_sha256")
    @classmethod
    def _digest(cls, value: str) -> str:
        if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
            raise ValueError("must be the key's SHA-256 as 64 hex digits (never the key itself)")
        return value.lower()


class ApiKeyConfig(Model):
    header: str | None = "X-API-Key"
    query: str | None = None
    consumers: list[ApiKeyConsumer] = Field(min_length=1)

    @model_validator(mode="after")
    def _source(self) -> ApiKeyConfig:
        if not self.header and not self.query:
            raise ValueError("set `header` or `query` (or both)")
        if self.header:
            _header_name(self.header)
        return self


class IdentityConfig(Model):
    """Identity propagation to services."""

    headers: list[str] = ["X-User-Id", "X-User-Role", "X-User-Scopes", "X-Consumer"]
    signing_key: str | None = None  # X-Portway-Identity is sent when set (use ${ENV})
    token_ttl: Duration = 60.0

    @field_validator("headers")
    @classmethod
    def _names(cls, values: list[str]) -> list[str]:
        return [_header_name(v) for v in values]

    @field_validator("signing_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if not value:
            return None  # `${PORTWAY_IDENTITY_KEY:-}` with the variable unset: no identity token
        if len(value.encode()) < 32:
            raise ValueError("the identity signing key must be at least 32 bytes")
        return value


class AuthConfig(Model):
    jwt: JwtConfig | None = None
    api_keys: ApiKeyConfig | None = None
    identity: IdentityConfig = IdentityConfig()


class RateLimitRule(Model):
    limit: int = Field(ge=1)
    per: Duration
    key: str = "ip"  # ip | user | api_key | route | header:<Name>, joined with '+'
    algorithm: Literal["gcra", "sliding_window"] = "gcra"
    name: str | None = None

    @field_validator("per")
    @classmethod
    def _per(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be longer than 0s")
        return value

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        for part in value.split("+"):
            if part.startswith("header:"):
                _header_name(part[7:])
            elif part not in ("ip", "user", "api_key", "route"):
                raise ValueError(f"unknown key part {part!r}: use ip, user, api_key, route or header:<Name>")
        return value


class RateLimitStore(Model):
    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    prefix: str = "portway:rl:"
    timeout: Duration = 0.25
    on_error: Literal["open", "closed"] = "open"


class CorsConfig(Model):
    origins: list[str] = Field(min_length=1)  # exact origins, or "*"
    methods: list[str] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    headers: list[str] = ["Authorization", "Content-Type"]
    expose_headers: list[str] = []
    credentials: bool = False
    max_age: Duration = 600.0

    @model_validator(mode="after")
    def _wildcard(self) -> CorsConfig:
        if self.credentials and "*" in self.origins:
            raise ValueError("credentials cannot be used with origin '*' (Fetch standard); list the origins")
        return self


def _check_cidrs(values: list[str]) -> list[str]:
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(f"invalid CIDR {value!r}") from None
    return values


CidrList = Annotated[list[str], AfterValidator(_check_cidrs)]


class IpRules(Model):
    allow: CidrList = []
    deny: CidrList = []


MethodList = list[str] | dict[str, list[str]]  # roles/scopes for the route, or per method

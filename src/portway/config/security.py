"""Config models for the edge-security policies (docs/security.md): authentication (JWT, API keys),
identity propagation, authorisation, rate limiting, CORS and IP rules."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from portway.config.models_base import Model
from portway.config.units import Duration, PositiveDuration, PositiveSize
from portway.headers import GATEWAY_SET, HOP_BY_HOP

JWT_ALGORITHMS = ("HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                  "ES256", "ES384", "ES512", "EdDSA")  # fmt: skip
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
# RFC 7518 §3.2: an HMAC key must be at least as long as the hash output.
HMAC_KEY_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
MAX_LEEWAY = 300.0  # clock skew beyond five minutes is a broken clock, not skew
# Headers the gateway owns: framing and hop-by-hop headers, forwarding headers and its own identity
# namespace. A credential read from one, or a claim written into one, would fight the gateway's own
# handling of it (a claim in Content-Length is request smuggling).
_OWNED = HOP_BY_HOP | GATEWAY_SET | {b"x-real-ip", b"cookie", b"x-portway-identity"}
_OWNED_PREFIXES = (b"x-forwarded-", b"x-portway-")


def _header_name(value: str) -> str:
    if not _HEADER_NAME.match(value):
        raise ValueError(f"invalid header name {value!r}")
    return value


def _free_header_name(value: str, what: str) -> str:
    """A header name the gateway does not own (see ``_OWNED``)."""
    lower = _header_name(value).lower().encode()
    if lower in _OWNED or lower.startswith(_OWNED_PREFIXES):
        raise ValueError(f"{value} cannot be {what}: the gateway sets or removes that header itself")
    return value


def _non_empty(value: str | None, hint: str) -> str | None:
    if value is not None and not value.strip():
        raise ValueError(f"cannot be empty ({hint})")
    return value


class JwtConfig(Model):
    algorithms: list[Literal[JWT_ALGORITHMS]] = Field(min_length=1)  # type: ignore[valid-type]
    jwks_url: str | None = None
    jwks_timeout: PositiveDuration = 2.0
    jwks_refresh_interval: Duration = 60.0  # at most one refresh per interval on an unknown kid
    jwks_max_age: PositiveDuration = 600.0  # background refresh even when every kid is known
    public_keys: list[str] = []  # PEM files
    secret: str | None = None  # HS* shared secret (use ${ENV})
    issuer: str | None = None
    audience: str | list[str] | None = None
    leeway: Duration = 30.0
    required_claims: list[str] = ["exp"]
    cookie: str | None = None  # also accept the token from this cookie
    max_token_size: PositiveSize = 8 * 1024
    cache_size: int = Field(default=100_000, ge=0)
    claims_to_headers: dict[str, str] = {"sub": "X-User-Id", "role": "X-User-Role", "scope": "X-User-Scopes"}
    roles_claim: str = "role"
    scopes_claim: str = "scope"

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str | None, info: ValidationInfo) -> str | None:
        # `algorithms` is declared first, so it is validated (or absent, if invalid) by now.
        hmac = [a for a in info.data.get("algorithms", ()) if a in HMAC_KEY_BYTES]
        if value and hmac:
            alg = max(hmac, key=HMAC_KEY_BYTES.__getitem__)
            need, size = HMAC_KEY_BYTES[alg], len(value.encode())
            if size < need:
                raise ValueError(
                    f"{alg} needs a secret of at least {need} bytes (RFC 7518 §3.2: no shorter than "
                    f"the hash), this one has {size}"
                )
        return value

    @field_validator("jwks_url")
    @classmethod
    def _jwks_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("unix:"):
            socket_path, sep, _ = value[5:].partition(":/")
            if not socket_path.startswith("/") or not sep:
                raise ValueError("expected unix:/path/to.sock:/path/of/jwks.json")
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an https:// (or http://, or unix:SOCKET:PATH) URL")
        return value

    @field_validator("leeway")
    @classmethod
    def _leeway(cls, value: float) -> float:
        if value > MAX_LEEWAY:
            raise ValueError(
                f"at most {MAX_LEEWAY:g}s: leeway is for clock skew, and more keeps expired tokens alive"
            )
        return value

    @field_validator("issuer", "cookie", "roles_claim", "scopes_claim")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        return _non_empty(value, "leave the key out instead")

    @field_validator("audience")
    @classmethod
    def _audience(cls, value: str | list[str] | None) -> str | list[str] | None:
        values = [value] if isinstance(value, str) else value or []
        if value is not None and (not values or not all(v.strip() for v in values)):
            raise ValueError("cannot be empty: name the audience tokens must carry, or leave the key out")
        return value

    @field_validator("claims_to_headers")
    @classmethod
    def _claim_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for header in value.values():
            _free_header_name(header, "a claim header")
        return value

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
        unused = self.changed({"jwks_timeout", "jwks_refresh_interval", "jwks_max_age"})
        if unused and self.jwks_url is None:
            raise ValueError(f"{', '.join(sorted(unused))}: only used with `jwks_url`")
        return self


class ApiKeyConsumer(Model):
    name: str
    key_sha256: str
    roles: list[str] = []
    scopes: list[str] = []

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _non_empty(value, "it is the consumer's identity upstream") or value

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

    @field_validator("header")
    @classmethod
    def _header(cls, value: str | None) -> str | None:
        if value is None:
            return None
        _non_empty(value, "use null to read keys from the query only")
        return _free_header_name(value, "the API-key header")

    @field_validator("query")
    @classmethod
    def _query(cls, value: str | None) -> str | None:
        return _non_empty(value, "leave the key out to read keys from the header only")

    @model_validator(mode="after")
    def _source(self) -> ApiKeyConfig:
        if not self.header and not self.query:
            raise ValueError("set `header` or `query` (or both)")
        return self


class IdentityConfig(Model):
    """Identity propagation to services."""

    headers: list[str] = ["X-User-Id", "X-User-Role", "X-User-Scopes", "X-Consumer"]
    signing_key: str | None = None  # X-Portway-Identity is sent when set (use ${ENV})
    token_ttl: PositiveDuration = 60.0

    @field_validator("headers")
    @classmethod
    def _names(cls, values: list[str]) -> list[str]:
        return [_free_header_name(v, "an identity header") for v in values]

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

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        # Sent in the RateLimit and RateLimit-Policy headers as a structured-field string.
        if value is not None and not (value and value.isascii() and value.isprintable()):
            raise ValueError("must be printable ASCII (it is sent in the RateLimit headers)")
        return value

    @model_validator(mode="after")
    def _rate(self) -> RateLimitRule:
        # The stores count whole microseconds (rate_limit/store.py): one request per µs at most.
        if round(self.per * 1_000_000) // self.limit < 1:
            raise ValueError(f"{self.limit} per {self.per:g}s is finer than one request per microsecond")
        return self


class RateLimitStore(Model):
    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    prefix: str = "portway:rl:"
    timeout: PositiveDuration = 0.25
    on_error: Literal["open", "closed"] = "open"

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str, info: ValidationInfo) -> str:
        # The URL may hold a password: messages describe it, never repeat it.
        if info.data.get("backend") != "redis":
            return value
        parts = urlsplit(value)
        if parts.scheme == "unix":
            if not parts.path.startswith("/"):
                raise ValueError("a unix:// Redis URL needs an absolute socket path")
            return value
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError("expected a redis://, rediss:// or unix:// URL")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("the Redis URL's port is not a number from 0 to 65535") from None
        if not parts.hostname or port == 0:
            raise ValueError("the Redis URL needs a host (and a port other than 0)")
        if parts.path.strip("/") and not parts.path.strip("/").isdigit():
            raise ValueError("the Redis URL's path must be a database number, like /0")
        from redis.connection import parse_url  # only with `backend: redis`: the client's own parser

        try:
            parse_url(value)  # type: ignore[no-untyped-call]  # its messages never repeat the URL
        except ValueError as exc:
            raise ValueError(f"the Redis client refuses this URL: {exc}") from None
        return value

    @model_validator(mode="after")
    def _redis_only(self) -> RateLimitStore:
        # `redis_url` without `backend: redis` would silently count in memory, per replica.
        unused = self.changed({"redis_url", "prefix", "timeout", "on_error"})
        if unused and self.backend != "redis":
            raise ValueError(f"{', '.join(sorted(unused))}: only used with `backend: redis`")
        return self


_ORIGIN = re.compile(r"^[a-z][a-z0-9+.-]*://[^/?#\s]+$")  # the same rule as policies/cors.py


class CorsConfig(Model):
    origins: list[str] = Field(min_length=1)  # exact origins, or "*"
    methods: list[str] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    headers: list[str] = ["Authorization", "Content-Type"]
    expose_headers: list[str] = []
    credentials: bool = False
    max_age: Duration = 600.0

    @field_validator("origins")
    @classmethod
    def _origins(cls, values: list[str]) -> list[str]:
        for value in values:
            if value != "*" and not (value.isascii() and _ORIGIN.match(value.lower())):
                raise ValueError(f"origin {value!r} must be '*' or scheme://host[:port] (no path, no '/')")
        return values

    @field_validator("methods", "headers", "expose_headers")
    @classmethod
    def _tokens(cls, values: list[str]) -> list[str]:
        # Methods and header names share the token grammar (RFC 9110 §5.6.2); '*' is the wildcard.
        for value in values:
            if value != "*" and not _HEADER_NAME.match(value):
                raise ValueError(f"{value!r} is not a valid name (letters, digits and !#$%&'*+.^_`|~-)")
        return values

    @model_validator(mode="after")
    def _wildcard(self) -> CorsConfig:
        if self.credentials and "*" in self.origins:
            raise ValueError("credentials cannot be used with origin '*' (Fetch standard); list the origins")
        if self.credentials:
            for field in ("headers", "methods", "expose_headers"):
                if "*" in getattr(self, field):
                    raise ValueError(f"with credentials, '*' in {field} is a literal name, not a wildcard")
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

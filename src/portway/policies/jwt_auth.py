"""Bearer-token (JWT) verification with PyJWT, cached until the token expires.

A repeated token costs one dictionary look-up; only a new token pays for a signature check. The
cache is keyed by the whole token string, so a token whose signature was never verified can never
hit it. A token whose ``kid`` is unknown triggers at most one JWKS refresh per interval (the only
awaitable this authenticator returns); known keys keep working while the JWKS endpoint is down.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable
from typing import Any

import jwt

from portway.config.security import JwtConfig
from portway.policies.base import Identity
from portway.policies.jwt_keys import JwtKeys
from portway.tasks import spawn


class InvalidToken(Exception):
    """The token cannot be trusted. The reason is for the gateway's log, never for the client."""


def _strings(value: object, claim: str, split: bool) -> tuple[str, ...]:
    """A roles/scopes claim as strings: one string (space-separated when ``split``) or a list of
    strings. Anything else (a number, an object, nested lists) makes the token unusable."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.split()) if split else (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise InvalidToken(f"claim {claim!r} is neither a string nor a list of strings")


def _is_number(value: object) -> bool:
    """A JSON number usable as a NumericDate: an int or a finite float, never a bool (a subclass
    of int in Python) nor a string of digits (PyJWT would ``int()`` both)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _check_claim_types(claims: dict[str, Any]) -> None:
    """RFC 7519 §4.1: the registered claims, when present, have their JSON types. PyJWT coerces
    some (``int("123")``, ``int(True)``) and skips others when they are not being verified (``iss``
    with no issuer configured, a falsy ``aud`` with no audience), so every one is checked here,
    before a token can be cached. ``null`` is a wrong type, not an absent claim."""
    for claim in ("exp", "nbf", "iat"):
        if claim in claims and not _is_number(claims[claim]):
            raise InvalidToken(f"claim {claim!r} is not a number")
    for claim in ("iss", "sub", "jti"):
        if claim in claims and not isinstance(claims[claim], str):
            raise InvalidToken(f"claim {claim!r} is not a string")
    if "aud" in claims:
        aud = claims["aud"]
        if not isinstance(aud, str) and not (isinstance(aud, list) and all(isinstance(a, str) for a in aud)):
            raise InvalidToken("claim 'aud' is neither a string nor an array of strings")


class JwtAuthenticator:
    def __init__(self, config: JwtConfig) -> None:
        self.config = config
        self.keys = JwtKeys(config)
        self.cookie = config.cookie.encode() + b"=" if config.cookie else None
        self._cache: dict[str, Identity] = {}
        self._cache_size = config.cache_size
        self._options = {"require": list(config.required_claims)}
        audience = config.audience
        self._audience: str | list[str] | None = audience
        self._roles_claim = config.roles_claim
        self._scopes_claim = config.scopes_claim

    def token_from(self, headers: list[tuple[bytes, bytes]]) -> bytes | None:
        for name, value in headers:
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                if scheme.lower() == b"bearer" and token:
                    return token.strip()
        if self.cookie is not None:
            for name, value in headers:
                if name == b"cookie":
                    for part in value.split(b";"):
                        part = part.strip()
                        if part.startswith(self.cookie):
                            return part[len(self.cookie) :] or None
        return None

    def verify(self, raw: bytes) -> Identity | Awaitable[Identity]:
        """An Identity, or an awaitable of one when the JWKS must be refreshed first.
        Raises :class:`InvalidToken`."""
        if len(raw) > self.config.max_token_size:
            raise InvalidToken("token too large")
        try:
            token = raw.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidToken("token is not ASCII") from None
        cached = self._cache.get(token)
        if cached is not None:
            if cached.expires > time.time():
                return cached
            del self._cache[token]
        keys = self.keys
        if keys.jwks_url is not None and not keys.refreshing and keys.stale() and keys.may_refresh():
            # Every jwks_max_age the key set is re-read in the background (so a key the IdP retired
            # stops verifying new tokens); this request goes on with the keys already known.
            spawn(keys.refresh(), name="jwks refresh")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.keys.allowed:
            raise InvalidToken(f"algorithm {alg!r} is not accepted")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("kid is not a string")
        key = self.keys.find(kid, alg)
        # An unknown kid waits for a fetch already in flight (the one at start-up or after a reload,
        # which would otherwise refuse every token for a whole interval), or starts one if allowed.
        if key is None and (self.keys.refreshing or self.keys.may_refresh()):
            return self._verify_after_refresh(token, kid, alg)
        if key is None:
            raise InvalidToken(f"no key for kid {kid!r} and {alg}")
        return self._check(token, key, alg)

    async def _verify_after_refresh(self, token: str, kid: str | None, alg: str) -> Identity:
        await self.keys.refresh()
        key = self.keys.find(kid, alg)
        if key is None:
            raise InvalidToken(f"no key for kid {kid!r} and {alg} after refreshing the JWKS")
        return self._check(token, key, alg)

    def _check(self, token: str, key: Any, alg: str) -> Identity:
        config = self.config
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],  # exactly the one the key's family allows: no confusion possible
                audience=self._audience,
                issuer=config.issuer,
                leeway=config.leeway,
                options=self._options,  # type: ignore[arg-type]
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        _check_claim_types(claims)
        identity = self._identity(claims)
        if self._cache_size:
            if len(self._cache) >= self._cache_size:
                self._evict()
            self._cache[token] = identity
        return identity

    def _identity(self, claims: dict[str, Any]) -> Identity:
        subject = claims.get("sub")
        if not isinstance(subject, str) or subject == "":  # a StringOrURI (RFC 7519 §4.1.2): never a number
            raise InvalidToken("token has no usable sub")
        roles = _strings(claims.get(self._roles_claim), self._roles_claim, split=False)
        scopes = frozenset(_strings(claims.get(self._scopes_claim, claims.get("scp")), "scope", split=True))
        exp = claims.get("exp")
        expires = float(exp) if exp is not None else time.time() + 300.0  # a number: checked above
        return Identity(subject, roles, scopes, None, claims, expires)

    def _evict(self) -> None:
        # Drop expired entries; if the cache is still full, drop the oldest half (insertion order).
        now = time.time()
        expired = [t for t, identity in self._cache.items() if identity.expires <= now]
        for token in expired:
            del self._cache[token]
        if len(self._cache) >= self._cache_size:
            for token in list(self._cache)[: len(self._cache) // 2 + 1]:
                del self._cache[token]

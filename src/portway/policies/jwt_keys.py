"""The keys JWTs are verified with: a shared secret (HS*), PEM public keys, and a JWKS URL.

Rules (they make ``alg: none`` and HS/RS key confusion impossible by construction):
- the accepted algorithms come from config; a token's ``alg`` outside them is refused before any key
  is looked at;
- every key is stored with its family (HMAC, RSA, EC, OKP), and a key is only ever used with an
  algorithm of its own family: an RSA public key is never handed to HMAC verification;
- a ``kid`` is only a dictionary key, never a path or a URL.
JWKS: fetched asynchronously with a timeout; refreshed in the background every ``jwks_max_age`` and,
when a token names an unknown ``kid``, at most once per ``jwks_refresh_interval``. If a fetch fails
the keys already known stay in use. ``unix:/path/to.sock:/.well-known/jwks.json`` fetches the path over
a unix socket, so an issuer with no TCP port (``portway up``'s services) can still publish its keys.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from portway.config.errors import ConfigValueError
from portway.config.security import JwtConfig

log = logging.getLogger("portway.jwt")
MIN_RSA_BITS = 2048  # RFC 7518 §3.3 (RS*) and §3.5 (PS*)


def family_of_alg(alg: str) -> str:
    if alg.startswith("HS"):
        return "HMAC"
    if alg.startswith(("RS", "PS")):
        return "RSA"
    if alg.startswith("ES"):
        return "EC"
    return "OKP"


def family_of_key(key: object) -> str | None:
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC"
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return "OKP"
    return None


def jwks_endpoint(jwks_url: str) -> tuple[str, httpx.AsyncHTTPTransport | None]:
    """The URL to GET and the transport to GET it with: ``unix:SOCKET:PATH`` goes over the socket."""
    if not jwks_url.startswith("unix:"):
        return jwks_url, None
    socket_path, _, path = jwks_url[5:].partition(":/")
    return f"http://localhost/{path}", httpx.AsyncHTTPTransport(uds=socket_path)


class JwtKeys:
    def __init__(self, config: JwtConfig) -> None:
        self.config = config
        self.allowed = frozenset(config.algorithms)
        self.secret = config.secret.encode() if config.secret else None
        # (family, key) for PEM keys, tried when no kid matches
        self.static: list[tuple[str, Any]] = [
            _load_pem(path, ("auth", "jwt", "public_keys", index), self.allowed)
            for index, path in enumerate(config.public_keys)
        ]
        self.by_kid: dict[str, tuple[str, Any]] = {}
        self.jwks_url = config.jwks_url
        # Building an SSL context (reading the CA bundle) blocks for tens of milliseconds: do it once
        # here, at load, not inside every fetch on the event loop.
        self._tls: ssl.SSLContext | bool = httpx.create_ssl_context() if config.jwks_url is not None else True
        self._last_attempt = float("-inf")
        self._last_success = float("-inf")
        self._refreshing: asyncio.Future[None] | None = None

    def find(self, kid: str | None, alg: str) -> Any:
        """The key for a token's ``kid``/``alg``, or None. Only keys of the alg's family qualify."""
        family = family_of_alg(alg)
        if family == "HMAC":
            return self.secret
        if kid is not None:
            entry = self.by_kid.get(kid)
            if entry is not None and entry[0] == family:
                return entry[1]
            if entry is not None:
                return None
        for key_family, key in self.static:
            if key_family == family:
                return key
        return None

    @property
    def refreshing(self) -> bool:
        """A fetch is in flight (the start-up one, typically): waiting for it costs no new fetch."""
        return self._refreshing is not None

    def may_refresh(self) -> bool:
        return (
            self.jwks_url is not None
            and time.monotonic() - self._last_attempt >= self.config.jwks_refresh_interval
        )

    def stale(self) -> bool:
        return self.jwks_url is not None and time.monotonic() - self._last_success >= self.config.jwks_max_age

    async def refresh(self) -> None:
        """Fetch the JWKS once; concurrent callers share the same fetch."""
        if self._refreshing is not None:
            await asyncio.shield(self._refreshing)
            return
        self._refreshing = asyncio.get_running_loop().create_future()
        try:
            await self._fetch()
        finally:
            self._refreshing.set_result(None)
            self._refreshing = None

    async def _fetch(self) -> None:
        assert self.jwks_url is not None
        self._last_attempt = time.monotonic()
        url, transport = jwks_endpoint(self.jwks_url)
        try:
            # httpx's timeout is per read: an endpoint trickling a byte at a time would never trip
            # it. The fetch as a whole gets `jwks_timeout`.
            async with asyncio.timeout(self.config.jwks_timeout):
                async with httpx.AsyncClient(
                    timeout=self.config.jwks_timeout, verify=self._tls, transport=transport
                ) as client:
                    response = await client.get(url)
                    response.raise_for_status()
                    document = response.json()
            keys = self._parse(document)
        except (httpx.HTTPError, ValueError, TimeoutError) as exc:
            log.warning(
                "JWKS %s: fetch failed (%s); keeping %d known keys",
                self.jwks_url, exc or type(exc).__name__, len(self.by_kid),
            )  # fmt: skip
            return
        self.by_kid = keys
        self._last_success = time.monotonic()
        log.info("JWKS %s: %d keys", self.jwks_url, len(keys))

    def _parse(self, document: object) -> dict[str, tuple[str, Any]]:
        """The usable signing keys of a JWKS document; ValueError if it is not one."""
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise ValueError("not a JWKS document (no `keys` list)")
        keys: dict[str, tuple[str, Any]] = {}
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or "kid" not in entry:
                continue
            try:
                jwk = jwt.PyJWK(entry)
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
                log.warning("JWKS %s: skipping unusable key %r", self.jwks_url, entry.get("kid"))
                continue
            family = family_of_key(jwk.key)
            if isinstance(jwk.key, rsa.RSAPublicKey) and jwk.key.key_size < MIN_RSA_BITS:
                log.warning(
                    "JWKS %s: skipping %d-bit RSA key %r", self.jwks_url, jwk.key.key_size, entry["kid"]
                )
                continue
            if family is not None:
                keys[str(entry["kid"])] = (family, jwk.key)
        if not keys:
            # A document without one usable signing key is a broken answer, not a revocation of
            # every key: treat it as a failed fetch and keep the keys already known.
            raise ValueError("no usable signing key in the JWKS")
        return keys


def _load_pem(path: str, loc: tuple[int | str, ...], allowed: frozenset[str]) -> tuple[str, Any]:
    """A PEM public key and its family; a file that cannot serve ``allowed`` is a config error."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigValueError(loc, f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigValueError(loc, f"{path} is not a PEM public key (-----BEGIN PUBLIC KEY-----)") from None
    family = family_of_key(key)
    if family is None:
        raise ConfigValueError(loc, f"{path}: unsupported key type (use RSA, EC, Ed25519 or Ed448)")
    if family not in {family_of_alg(alg) for alg in allowed}:
        raise ConfigValueError(loc, f"{path} is an {family} key, but no algorithm in `algorithms` uses one")
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        message = f"{path}: a {key.key_size}-bit RSA key is too weak (RFC 7518 §3.3: at least {MIN_RSA_BITS})"
        raise ConfigValueError(loc, message)
    return family, key

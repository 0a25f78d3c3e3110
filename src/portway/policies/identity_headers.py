"""Route policy: tell the upstream who the caller is, from the verified identity only.

Client-sent identity headers are removed by the proxy on every route (public ones included),
whatever their spelling (case, ``_`` for ``-``, duplicates, named in ``Connection``); this policy
then adds the gateway's own values, once. Claim values that could not be sent safely in a header
(control characters) make the request fail with 401 rather than be forwarded mangled.
``X-Portway-Identity`` is signed once per identity and reused until half its lifetime has passed.
"""

from __future__ import annotations

import time

from portway.config.security import AuthConfig, JwtConfig
from portway.errors import ClientError
from portway.identity import sign_identity
from portway.policies.base import Context, Identity, PolicyResult

_UNSAFE = frozenset(range(0x20)) | {0x7F}
_DEFAULT_CLAIM_HEADERS = JwtConfig.model_fields["claims_to_headers"].default
_INVALID = (b"www-authenticate", b'Bearer realm="portway", error="invalid_token"')


def _header_value(value: object) -> bytes | None:
    if isinstance(value, list | tuple | set | frozenset):
        text = ",".join(str(v) for v in value)
    else:
        text = str(value)
    data = text.encode("utf-8")
    if _UNSAFE.intersection(data) or len(data) > 4096:
        return None
    return data


class IdentityHeaders:
    name = "identity"

    def __init__(self, auth: AuthConfig) -> None:
        jwt = auth.jwt
        claims = jwt.claims_to_headers if jwt is not None else _DEFAULT_CLAIM_HEADERS
        self.mapping = [(claim, header.lower().encode()) for claim, header in claims.items()]
        # An API-key consumer gets the same headers a JWT user would: its subject, declared roles
        # and scopes under the headers the subject, roles and scopes claims map to.
        roles_claim = jwt.roles_claim if jwt is not None else "role"
        scopes_claim = jwt.scopes_claim if jwt is not None else "scope"
        by_claim = dict(self.mapping)
        self.consumer_headers = (by_claim.get("sub"), by_claim.get(roles_claim), by_claim.get(scopes_claim))
        self.key = auth.identity.signing_key
        self.ttl = auth.identity.token_ttl
        self._signed: dict[tuple[str, tuple[str, ...], frozenset[str], str | None], tuple[bytes, float]] = {}

    def request(self, ctx: Context) -> PolicyResult:
        identity = ctx.identity
        if identity is None:
            return None
        out = ctx.upstream_headers
        if identity.consumer is not None:
            self._consumer(identity, out)
        else:
            denial = self._claims(identity, out)
            if denial is not None:
                return denial
        if self.key is not None:
            out.append((b"x-portway-identity", self._token(identity)))
        return None

    def _consumer(self, identity: Identity, out: list[tuple[bytes, bytes]]) -> None:
        assert identity.consumer is not None  # names were validated at load: header-safe
        out.append((b"x-consumer", identity.consumer.encode()))
        subject, roles, scopes = self.consumer_headers
        if subject is not None:
            out.append((subject, identity.subject.encode()))
        if roles is not None and identity.roles:
            out.append((roles, ",".join(identity.roles).encode()))
        if scopes is not None and identity.scopes:
            out.append((scopes, " ".join(sorted(identity.scopes)).encode()))

    def _claims(self, identity: Identity, out: list[tuple[bytes, bytes]]) -> ClientError | None:
        for claim, header in self.mapping:
            value = identity.claims.get(claim)
            if value is None:
                continue
            if claim == "scope" and isinstance(value, list):
                value = " ".join(str(v) for v in value)
            encoded = _header_value(value)
            if encoded is None:
                return ClientError(401, "the credential is invalid or expired", [_INVALID])
            out.append((header, encoded))
        return None

    def _token(self, identity: Identity) -> bytes:
        assert self.key is not None
        cache_key = (identity.subject, identity.roles, identity.scopes, identity.consumer)
        now = time.time()
        cached = self._signed.get(cache_key)
        if cached is not None and cached[1] > now:
            return cached[0]
        if len(self._signed) > 50_000:
            self._signed.clear()
        token = sign_identity(identity.subject, identity.roles, identity.scopes, identity.consumer,
                              self.key, self.ttl, now).encode()  # fmt: skip
        self._signed[cache_key] = (token, now + self.ttl / 2)
        return token

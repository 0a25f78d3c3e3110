"""``X-Portway-Identity``: the gateway's signed statement of who a request is from.

The gateway signs a short-lived HS256 token with an internal key shared only with the services
(``auth.identity.signing_key``). A service that verifies it knows the request passed the gateway
and who the caller is, even if something else on the private network can reach it — the plain
``X-User-*`` headers alone can be forged by anything that gets a request to the service.

Services use :func:`verify_identity`::

    from portway.identity import verify_identity, IdentityError
    identity = verify_identity(request.headers["x-portway-identity"], key=os.environ["PORTWAY_IDENTITY_KEY"])
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

ISSUER = "portway"
AUDIENCE = "portway-services"
HEADER = "X-Portway-Identity"


class IdentityError(Exception):
    """The identity token is missing, forged, expired or malformed."""


@dataclass(frozen=True, slots=True)
class VerifiedIdentity:
    subject: str
    roles: tuple[str, ...]
    scopes: frozenset[str]
    consumer: str | None
    request_id: str | None
    expires: float


def sign_identity(
    subject: str,
    roles: tuple[str, ...],
    scopes: frozenset[str],
    consumer: str | None,
    key: str,
    ttl: float,
    now: float | None = None,
) -> str:
    issued = int(now if now is not None else time.time())
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "roles": list(roles),
        "scope": " ".join(sorted(scopes)),
        "iat": issued,
        "exp": issued + max(int(ttl), 1),
    }
    if consumer is not None:
        claims["consumer"] = consumer
    return jwt.encode(claims, key, algorithm="HS256")


def verify_identity(token: str | bytes | None, key: str, leeway: float = 5.0) -> VerifiedIdentity:
    """Verify a gateway identity token; raise :class:`IdentityError` if it cannot be trusted."""
    if not token:
        raise IdentityError("no identity token: the request did not come through the gateway")
    if isinstance(token, bytes):
        token = token.decode("ascii", "replace")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=leeway,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise IdentityError(f"invalid identity token: {exc}") from None
    roles = claims.get("roles") or []
    return VerifiedIdentity(
        subject=str(claims["sub"]),
        roles=tuple(str(r) for r in roles) if isinstance(roles, list) else (),
        scopes=frozenset(str(claims.get("scope", "")).split()),
        consumer=claims.get("consumer"),
        request_id=None,
        expires=float(claims["exp"]),
    )

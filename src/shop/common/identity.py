"""Who is calling: the identity the gateway verified, read from the headers it sets.

Services never see end-user credentials. The gateway verifies the user's JWT, strips any identity
headers the client sent, and sets ``X-User-Id``, ``X-User-Role`` and ``X-User-Scopes``. Those headers
are only as trustworthy as the network path from the gateway, so the gateway will also sign them into
``X-Portway-Identity``; with ``PORTWAY_IDENTITY_REQUIRED=1`` a service accepts a request only when that
token verifies (see :func:`_verified_claims`, the single place where the check plugs in).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from shop.common.problems import Problem

ROLES = frozenset({"customer", "admin"})


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: str
    role: str
    scopes: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def can_see(self, owner_id: str) -> bool:
        return self.is_admin or self.user_id == owner_id


def _verified_claims(request: Request, token: str | None) -> Mapping[str, str] | None:
    """Verify ``X-Portway-Identity`` when required; ``None`` means "trust the plain headers".

    PLUG-IN POINT (edge-security issue): ``portway.identity`` will provide ``verify(token) -> claims``
    (``sub``, ``role``, ``scopes``) checked against the gateway's internal key. Until it exists,
    requiring it fails closed with 503 rather than trusting unsigned headers.
    """
    if not request.app.state.service.settings.identity_required:
        return None
    if not token:
        raise Problem(401, "The request does not carry the gateway's identity token")
    try:
        from portway.identity import verify  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise Problem(503, "PORTWAY_IDENTITY_REQUIRED is set but portway.identity is not installed") from None
    try:
        claims: Mapping[str, str] = verify(token)
    except Exception as exc:
        raise Problem(401, "The gateway's identity token does not verify") from exc
    return claims


def _identity(user_id: str | None, role: str | None, scopes: str | None) -> Identity:
    if not user_id or not role:
        raise Problem(401, "The request carries no user identity (it must come through the gateway)")
    try:
        user_id = str(uuid.UUID(user_id))
    except ValueError:
        raise Problem(401, "The user id is not a UUID") from None
    if role not in ROLES:
        raise Problem(401, f"Unknown role {role!r}")
    return Identity(user_id, role, frozenset((scopes or "").split()))


async def current_identity(
    request: Request,
    x_user_id: Annotated[str | None, Header(description="Set by the gateway: the user's id")] = None,
    x_user_role: Annotated[str | None, Header(description="Set by the gateway: customer or admin")] = None,
    x_user_scopes: Annotated[str | None, Header(description="Set by the gateway: space-separated")] = None,
    x_portway_identity: Annotated[
        str | None, Header(description="Set by the gateway: signed identity")
    ] = None,
) -> Identity:
    claims = _verified_claims(request, x_portway_identity)
    if claims is not None:
        return _identity(claims.get("sub"), claims.get("role"), claims.get("scopes"))
    return _identity(x_user_id, x_user_role, x_user_scopes)


async def admin_identity(identity: Annotated[Identity, Depends(current_identity)]) -> Identity:
    if not identity.is_admin:
        raise Problem(403, "This needs the admin role")
    return identity


CurrentUser = Annotated[Identity, Depends(current_identity)]
Admin = Annotated[Identity, Depends(admin_identity)]

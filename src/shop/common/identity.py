"""Who is calling: the identity the gateway verified, read from the headers it sets.

Services never see end-user credentials. The gateway verifies the user's JWT, strips any identity
headers the client sent, and sets ``X-User-Id``, ``X-User-Role`` and ``X-User-Scopes``. Those headers
are only as trustworthy as the network path from the gateway, so the gateway also signs them into
``X-Portway-Identity`` (HS256, with the internal key ``PORTWAY_IDENTITY_KEY``); with
``PORTWAY_IDENTITY_REQUIRED=1`` a service accepts a request only when that token verifies, and takes
the identity from it (:func:`_verified_identity`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from portway.identity import IdentityError, verify_identity
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


def _verified_identity(request: Request, token: str | None) -> Identity | None:
    """With ``PORTWAY_IDENTITY_REQUIRED=1``, the identity comes from the verified token, not the headers.

    ``None`` means the check is off and the plain headers are trusted (the network path from the
    gateway is the only protection then).
    """
    settings = request.app.state.service.settings
    if not settings.identity_required:
        return None
    try:
        verified = verify_identity(token, key=settings.identity_key)
    except IdentityError:
        raise Problem(401, "The request did not come through the gateway") from None
    role = next((r for r in verified.roles if r in ROLES), None)
    return _identity(verified.subject, role, " ".join(sorted(verified.scopes)))


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
    verified = _verified_identity(request, x_portway_identity)
    return verified or _identity(x_user_id, x_user_role, x_user_scopes)


async def admin_identity(identity: Annotated[Identity, Depends(current_identity)]) -> Identity:
    if not identity.is_admin:
        raise Problem(403, "This needs the admin role")
    return identity


CurrentUser = Annotated[Identity, Depends(current_identity)]
Admin = Annotated[Identity, Depends(admin_identity)]

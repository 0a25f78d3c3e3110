"""Compiling a route's policy chain once, at load (STYLE.md §2-3): config in, a tuple of policy
objects out, in the order a request meets them:

    IP rules → CORS → authentication → authorisation → rate limit → identity headers

IP rules first (a denied address learns nothing else); CORS before authentication so a browser's
preflight, which carries no credentials, is answered; the rate limit after authentication so it
can key on the user; identity headers last, from what was verified.
"""

from __future__ import annotations

from portway.config.models import GatewayConfig, Route
from portway.policies.api_key import ApiKeyAuthenticator
from portway.policies.authentication import Authentication
from portway.policies.authorize import Authorize
from portway.policies.base import Policy
from portway.policies.identity_headers import IdentityHeaders
from portway.policies.jwt_auth import JwtAuthenticator


class SharedPolicyState:
    """What the routes of one gateway share: authenticators (and their caches, JWKS)."""

    def __init__(self, config: GatewayConfig) -> None:
        self.jwt = JwtAuthenticator(config.auth.jwt) if config.auth.jwt is not None else None
        self.api_keys = (
            ApiKeyAuthenticator(config.auth.api_keys) if config.auth.api_keys is not None else None
        )
        self.identity = IdentityHeaders(config.auth)
        self.has_auth = self.jwt is not None or self.api_keys is not None

    async def warm_up(self) -> None:
        if self.jwt is not None and self.jwt.keys.jwks_url is not None:
            await self.jwt.keys.refresh()


def build_chain(route: Route, config: GatewayConfig, shared: SharedPolicyState) -> tuple[Policy, ...]:
    chain: list[Policy] = []
    mode = route.auth_mode(shared.has_auth)
    if mode != "none":
        chain.append(Authentication(mode == "required", shared.jwt, shared.api_keys))
    if route.roles or route.scopes:
        chain.append(Authorize(route.roles, route.scopes))
    if mode != "none":
        chain.append(shared.identity)
    return tuple(chain)

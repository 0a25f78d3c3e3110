"""Route policy: who is calling. ``auth: required`` denies anonymous requests with 401,
``optional`` lets them through anonymously, and a credential that is present but invalid is denied
in both modes (a bad token never silently downgrades to anonymous).

An API key (when configured and present) is checked first, then a bearer token / cookie JWT.
"""

from __future__ import annotations

from collections.abc import Awaitable

from portway.errors import ClientError
from portway.policies.api_key import ApiKeyAuthenticator
from portway.policies.base import Context, Identity, PolicyResult
from portway.policies.jwt_auth import InvalidToken, JwtAuthenticator

_CHALLENGE = (b"www-authenticate", b'Bearer realm="portway"')
_INVALID = (b"www-authenticate", b'Bearer realm="portway", error="invalid_token"')


def _missing() -> ClientError:
    return ClientError(401, "authentication is required", [_CHALLENGE])


def _invalid() -> ClientError:
    # Deliberately the same text for every failure: the reason goes nowhere an attacker can see.
    return ClientError(401, "the credential is invalid or expired", [_INVALID])


class Authentication:
    name = "auth"

    def __init__(
        self, required: bool, jwt: JwtAuthenticator | None, api_keys: ApiKeyAuthenticator | None
    ) -> None:
        if jwt is None and api_keys is None:
            raise ValueError("authentication needs a JWT or API-key configuration")
        self.required = required
        self.jwt = jwt
        self.api_keys = api_keys

    def request(self, ctx: Context) -> PolicyResult:
        head = ctx.head
        if self.api_keys is not None:
            key = self.api_keys.key_from(head.headers, ctx.query)
            if key is not None:
                identity = self.api_keys.verify(key)
                if identity is None:
                    return _invalid()
                ctx.identity = identity
                return None
        if self.jwt is not None:
            token = self.jwt.token_from(head.headers)
            if token is not None:
                try:
                    result = self.jwt.verify(token)
                except InvalidToken:
                    return _invalid()
                if isinstance(result, Identity):
                    ctx.identity = result
                    return None
                return self._await(ctx, result)
        return _missing() if self.required else None

    @staticmethod
    async def _await(ctx: Context, pending: Awaitable[Identity]) -> ClientError | None:
        try:
            ctx.identity = await pending
        except InvalidToken:
            return _invalid()
        return None

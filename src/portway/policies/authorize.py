"""Route policy: may this identity do this? ``roles`` — any one of them; ``scopes`` — all of them;
either as a list for the whole route or per method (``{GET: [...], POST: [...]}``; a method not
listed has no requirement, except HEAD, which inherits GET's). Anonymous requests on a route with
requirements get 401, others 403."""

from __future__ import annotations

from portway.config.security import MethodList
from portway.errors import ClientError
from portway.policies.base import Context, PolicyResult

_ANY = "*"
_CHALLENGE = (b"www-authenticate", b'Bearer realm="portway"')


def _by_method(value: MethodList | None) -> dict[str, frozenset[str]]:
    if value is None:
        return {}
    if isinstance(value, list):
        return {_ANY: frozenset(value)}
    by_method = {method: frozenset(items) for method, items in value.items()}
    # HEAD is GET without the body (RFC 9110 §9.3.2) and most frameworks answer it with the GET
    # handler: a requirement on GET must hold for HEAD too, unless HEAD has its own.
    if "GET" in by_method and "HEAD" not in by_method:
        by_method["HEAD"] = by_method["GET"]
    return by_method


class Authorize:
    name = "authorize"

    def __init__(self, roles: MethodList | None, scopes: MethodList | None) -> None:
        self.roles = _by_method(roles)
        self.scopes = _by_method(scopes)

    def request(self, ctx: Context) -> PolicyResult:
        method = ctx.head.method
        roles = self.roles.get(method, self.roles.get(_ANY))
        scopes = self.scopes.get(method, self.scopes.get(_ANY))
        if not roles and not scopes:
            return None
        identity = ctx.identity
        if identity is None:
            return ClientError(
                401, "authentication is required", [(b"www-authenticate", b'Bearer realm="portway"')]
            )
        if roles and roles.isdisjoint(identity.roles):
            return ClientError(403, "your role does not allow this request")
        if scopes and not scopes <= identity.scopes:
            return ClientError(403, "your token lacks a scope this request needs")
        return None

"""CORS per the Fetch standard, answered at the gateway (``cors:`` per route or gateway-wide).

- A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) never reaches the
  upstream: 204 with the allowed methods, headers and max-age when the origin, method and every
  requested header are allowed, else a 403 problem saying which one is not.
- An actual request from an allowed origin is forwarded and its response gets
  ``Access-Control-Allow-Origin`` (the origin itself, or ``*`` for a wildcard without credentials),
  ``Access-Control-Expose-Headers`` and, with ``credentials``, ``Access-Control-Allow-Credentials``.
- The upstream's own ``Access-Control-Allow-Origin``, ``-Credentials`` and ``-Expose-Headers`` are
  removed from responses to allowed origins (the ``response`` hook): the gateway's are the answer.
- A request from another origin is forwarded without CORS headers: the browser withholds the
  response from the page. CORS protects browsers' users; it is not access control.
- When the answer depends on the origin, responses carry ``Vary: Origin`` — including responses
  without CORS headers, so a shared cache never hands one origin's answer to another.

With credentials, ``*`` in ``headers``, ``methods`` or ``expose_headers`` would be a literal name
(Fetch), never a wildcard, so it is refused at load instead of silently not working.
"""

from __future__ import annotations

import re

from portway.config.security import CorsConfig
from portway.contract import Answer
from portway.errors import ClientError
from portway.policies.base import Context, Denial, Reply

ALLOW_ORIGIN = b"access-control-allow-origin"
ALLOW_CREDENTIALS = (b"access-control-allow-credentials", b"true")
VARY_ORIGIN = (b"vary", b"Origin")
SAFELISTED_METHODS = frozenset({b"GET", b"HEAD", b"POST"})  # Fetch: never need to be listed
# The upstream's own CORS answer is replaced by the gateway's: two Allow-Origin values make a
# browser reject the response, and the route's policy is the one that was configured.
_UPSTREAM_CORS = frozenset(
    {b"access-control-allow-origin", b"access-control-allow-credentials", b"access-control-expose-headers"}
)
_ORIGIN = re.compile(r"^[a-z][a-z0-9+.-]*://[^/?#\s]+$")


def _origin(value: str) -> bytes:
    origin = value.lower()  # browsers serialise scheme and host in lower case
    if not _ORIGIN.match(origin):
        raise ValueError(f"CORS origin {value!r} must be '*' or scheme://host[:port] (no path, no '/')")
    return origin.encode("ascii")


class Cors:
    name = "cors"

    def __init__(self, config: CorsConfig) -> None:
        self.credentials = config.credentials
        self.any_origin = "*" in config.origins
        self.origins = frozenset(_origin(o) for o in config.origins if o != "*")
        if config.credentials:
            for field in ("headers", "methods", "expose_headers"):
                if "*" in getattr(config, field):
                    raise ValueError(
                        f"with credentials, '*' in CORS {field} is a literal name, not a wildcard"
                    )
        self.any_method = "*" in config.methods
        self.methods = frozenset(m.encode("ascii") for m in config.methods)
        self.any_header = "*" in config.headers
        self.headers = frozenset(h.lower().encode("ascii") for h in config.headers)
        # Responses depend on Origin unless every origin gets the same `*`.
        self.varies = not (self.any_origin and not self.credentials)
        common = [ALLOW_CREDENTIALS] if self.credentials else []
        if self.varies:
            common.append(VARY_ORIGIN)
        self._preflight_tail = [
            *common,
            (b"access-control-allow-methods", ", ".join(config.methods).encode("ascii")),
            (b"access-control-max-age", b"%d" % int(config.max_age)),
        ]
        self._allow_headers = ", ".join(config.headers).encode("ascii")
        self._actual_tail = list(common)
        if config.expose_headers:
            self._actual_tail.append(
                (b"access-control-expose-headers", ", ".join(config.expose_headers).encode("ascii"))
            )

    def __repr__(self) -> str:
        origins = ["*"] if self.any_origin else sorted(o.decode() for o in self.origins)
        return f"<Cors origins={origins} credentials={self.credentials}>"

    def request(self, ctx: Context) -> Denial | None:
        head = ctx.head
        origin = head.header(b"origin")
        if origin is None:
            if self.varies:
                ctx.response_headers.append(VARY_ORIGIN)
            return None
        if head.method == "OPTIONS":
            method = head.header(b"access-control-request-method")
            if method is not None:
                return self._preflight(origin, method, head.header(b"access-control-request-headers"))
        if self.any_origin or origin in self.origins:
            ctx.response_headers.append((ALLOW_ORIGIN, self._allow_origin(origin)))
            ctx.response_headers.extend(self._actual_tail)
        elif self.varies:
            ctx.response_headers.append(VARY_ORIGIN)
        return None

    def response(self, ctx: Context, reply: Reply) -> None:
        origin = ctx.head.header(b"origin")
        if origin is None or not (self.any_origin or origin in self.origins):
            return None
        headers = reply.headers
        if any(name.lower() in _UPSTREAM_CORS for name, _ in headers):
            headers[:] = [(name, value) for name, value in headers if name.lower() not in _UPSTREAM_CORS]
        return None

    def _allow_origin(self, origin: bytes) -> bytes:
        return origin if self.varies else b"*"

    def _preflight(self, origin: bytes, method: bytes, requested: bytes | None) -> Denial:
        if not (self.any_origin or origin in self.origins):
            return ClientError(403, "CORS: this origin is not allowed")
        if not (self.any_method or method in self.methods or method in SAFELISTED_METHODS):
            return ClientError(403, f"CORS: method {method.decode('latin-1')} is not allowed")
        names = [n.strip().lower() for n in requested.split(b",")] if requested else []
        names = [n for n in names if n]
        if not self.any_header:
            refused = [n.decode("latin-1") for n in names if n not in self.headers]
            if refused:
                return ClientError(403, f"CORS: request headers not allowed: {', '.join(refused)}")
        headers = [(ALLOW_ORIGIN, self._allow_origin(origin)), *self._preflight_tail]
        # With a wildcard, name the requested headers: Fetch never lets `*` cover Authorization.
        allow_headers = b", ".join(names) if self.any_header else self._allow_headers
        if allow_headers:
            headers.append((b"access-control-allow-headers", allow_headers))
        return Answer(204, headers)

"""Bearer-token authentication of the admin API (RFC 6750).

Rules:
- Without a token configured (allowed on loopback only: config/admin.py) every request passes.
- With one, every request needs ``Authorization: Bearer <token>``; no header is a 401 with
  ``WWW-Authenticate: Bearer realm="portway-admin"``, a wrong token a 401 with
  ``error="invalid_token"`` as well. /health is no exception: what a prober reaches, anyone does.
- Tokens are compared in constant time, as SHA-256 digests so that not even their length leaks
  through timing (``hmac.compare_digest`` is constant-time only for inputs of equal length).
"""

from __future__ import annotations

import hashlib
import hmac

from portway.contract import RequestHead
from portway.errors import ClientError

_REALM = b'Bearer realm="portway-admin"'
_INVALID = b'Bearer realm="portway-admin", error="invalid_token"'


class BearerToken:
    def __init__(self, token: str) -> None:
        self._digest = hashlib.sha256(token.encode()).digest()

    def __repr__(self) -> str:
        return "<BearerToken ***>"  # never the token, not even in a traceback

    def refusal(self, head: RequestHead) -> ClientError | None:
        """None when the request carries the token, else the 401 to answer with."""
        value = head.header(b"authorization")
        if value is None:
            return ClientError(401, "the admin API needs a bearer token", [(b"www-authenticate", _REALM)])
        scheme, _, credential = value.strip().partition(b" ")
        if scheme.lower() != b"bearer":
            return ClientError(401, "the admin API needs a bearer token", [(b"www-authenticate", _REALM)])
        offered = hashlib.sha256(credential.strip()).digest()
        if not hmac.compare_digest(offered, self._digest):
            return ClientError(401, "invalid admin token", [(b"www-authenticate", _INVALID)])
        return None

"""A strict edge, JWT registered claims of the wrong JSON type (RFC 7519 §4.1) → 401 over the wire,
and the upstream sees nothing; the same token with the right types passes (the control)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .support import ISSUER, SECRET, assert_invalid_token, call, claims, hmac_token, jwt_config, serve

NOW = int(time.time())
WRONG_TYPES = {
    "exp-string": {"exp": str(NOW + 600)},
    "exp-true": {"exp": True},
    "exp-null": {"exp": None},
    "exp-list": {"exp": [NOW + 600]},
    "exp-nan": {"exp": float("nan")},
    "exp-huge": {"exp": 10**400},
    "nbf-string": {"nbf": str(NOW - 10)},
    "nbf-false": {"nbf": False},
    "nbf-object": {"nbf": {}},
    "iat-string": {"iat": str(NOW - 10)},
    "iat-true": {"iat": True},
    "iss-number": {"iss": 1},
    "iss-list": {"iss": [ISSUER]},
    "sub-number": {"sub": 42},
    "sub-null": {"sub": None},
    "sub-list": {"sub": ["alice"]},
    "aud-number": {"aud": 1},
    "aud-false": {"aud": False},
    "aud-object": {"aud": {}},
    "aud-list-of-numbers": {"aud": [1, 2]},
    "jti-number": {"jti": 7},
}


@pytest.mark.parametrize("checked", [True, False], ids=["issuer-and-audience-set", "unset"])
@pytest.mark.parametrize("overrides", WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
async def test_wrong_claim_types_are_401(overrides: dict[str, Any], checked: bool) -> None:
    """With no issuer or audience configured PyJWT does not look at `iss` or a falsy `aud` at all."""
    config = jwt_config() if checked else jwt_config(issuer=None, audience=None)
    good = claims() if checked else claims(iss=None, aud=None)
    bad = good | overrides  # a JSON null is sent as such (claims() would drop it)
    async with serve(auth={"jwt": config}) as (up, port):
        refused = hmac_token(SECRET.encode(), bad)
        assert_invalid_token(await call(port, "/api/x", bearer=refused))
        assert_invalid_token(await call(port, "/api/x", bearer=refused))  # refused again: never cached
        control = await call(port, "/api/x", bearer=hmac_token(SECRET.encode(), good))
        assert control.status == 200, control.body
    assert len(up.requests) == 1  # only the control

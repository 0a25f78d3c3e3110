"""Registered JWT claims of the wrong JSON type (RFC 7519 §4.1) make a token invalid, whether or not
the gateway is configured to check that claim's value. Tokens are signed for real with PyJWT's JWS
layer (``jwt.encode`` itself refuses some of these payloads, which an attacker's library would not)."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest

from portway.config.security import JwtConfig
from portway.policies.base import Identity
from portway.policies.jwt_auth import InvalidToken, JwtAuthenticator

SECRET = "claim-types-secret-" + "c" * 45
ISSUER = "https://idp.example"
AUDIENCE = "portway-api"

CONFIGS = {
    # issuer and audience checked: PyJWT looks at `iss` and `aud` itself
    "checked": {"issuer": ISSUER, "audience": AUDIENCE},
    # neither configured: PyJWT skips `iss`, and accepts a falsy `aud`
    "unchecked": {},
}


def authenticator(**extra: Any) -> JwtAuthenticator:
    return JwtAuthenticator(JwtConfig(algorithms=["HS256"], secret=SECRET, required_claims=[], **extra))


def signed(payload: dict[str, Any]) -> bytes:
    """Any JSON payload (NaN and Infinity included), signed with the gateway's secret."""
    body = json.dumps(payload).encode()
    return jwt.api_jws.PyJWS().encode(body, SECRET, algorithm="HS256").encode()


def payload(config: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"sub": "alice", "iat": now - 10, "nbf": now - 10, "exp": now + 600, "jti": "t-1"}
    if config == "checked":
        base |= {"iss": ISSUER, "aud": AUDIENCE}
    return base | overrides


def verified(auth: JwtAuthenticator, token: bytes) -> Identity:
    identity = auth.verify(token)
    assert isinstance(identity, Identity)  # HS256 with a secret never waits for a JWKS
    return identity


HUGE = 10**400  # a JSON integer no float can hold
NUMBER_CLAIMS = ["exp", "nbf", "iat"]
NOT_NUMBERS = {
    "digits-string": lambda now: str(now),
    "float-string": lambda now: f"{now}.5",
    "true": lambda now: True,
    "false": lambda now: False,
    "null": lambda now: None,
    "list": lambda now: [now],
    "object": lambda now: {"t": now},
    "nan": lambda now: float("nan"),
    "infinity": lambda now: float("inf"),
    "minus-infinity": lambda now: float("-inf"),
    "huge-int": lambda now: HUGE,
}


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("claim", NUMBER_CLAIMS)
@pytest.mark.parametrize("kind", NOT_NUMBERS)
def test_time_claims_must_be_numbers(config: str, claim: str, kind: str) -> None:
    auth = authenticator(**CONFIGS[config])
    now = int(time.time())
    # the value a number would have to be valid: future for exp, past for nbf and iat
    base = now + 600 if claim == "exp" else now - 10
    token = signed(payload(config, **{claim: NOT_NUMBERS[kind](base)}))
    with pytest.raises(InvalidToken):
        auth.verify(token)
    assert auth._cache == {}  # refused tokens are never cached
    with pytest.raises(InvalidToken):
        auth.verify(token)  # and a second try is verified (and refused) in full


@pytest.mark.parametrize("config", CONFIGS)
def test_time_claims_may_be_fractional(config: str) -> None:
    now = time.time()
    auth = authenticator(**CONFIGS[config])
    identity = verified(auth, signed(payload(config, exp=now + 600.25, nbf=now - 1.5, iat=now - 1.5)))
    assert identity.expires == pytest.approx(now + 600.25)


NOT_STRINGS = {
    "int": 42,
    "zero": 0,
    "float": 1.5,
    "true": True,
    "false": False,
    "null": None,
    "list": ["alice"],
    "empty-list": [],
    "object": {"name": "alice"},
}


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("claim", ["iss", "sub", "jti"])
@pytest.mark.parametrize("kind", NOT_STRINGS)
def test_string_claims_must_be_strings(config: str, claim: str, kind: str) -> None:
    auth = authenticator(**CONFIGS[config])
    token = signed(payload(config, **{claim: NOT_STRINGS[kind]}))
    with pytest.raises(InvalidToken):
        auth.verify(token)
    assert auth._cache == {}


def test_sub_is_not_stringified() -> None:
    """Numeric subjects were once accepted (as "42"); RFC 7519 makes `sub` a StringOrURI."""
    auth = authenticator()
    with pytest.raises(InvalidToken):
        auth.verify(signed(payload("unchecked", sub=42)))
    assert verified(auth, signed(payload("unchecked", sub="42"))).subject == "42"


NOT_AUDIENCES = {
    "int": 1,
    "zero": 0,  # falsy: PyJWT with no audience configured would let it pass
    "false": False,
    "true": True,
    "null": None,
    "float": 1.5,
    "object": {"aud": AUDIENCE},
    "empty-object": {},
    "list-of-int": [1],
    "mixed-list": [AUDIENCE, 2],
    "nested-list": [[AUDIENCE]],
    "list-with-null": [AUDIENCE, None],
}


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("kind", NOT_AUDIENCES)
def test_aud_must_be_a_string_or_an_array_of_strings(config: str, kind: str) -> None:
    auth = authenticator(**CONFIGS[config])
    token = signed(payload(config, aud=NOT_AUDIENCES[kind]))
    with pytest.raises(InvalidToken):
        auth.verify(token)
    assert auth._cache == {}


def test_aud_as_string_or_array_is_accepted() -> None:
    auth = authenticator(audience=AUDIENCE)
    assert verified(auth, signed(payload("unchecked", aud=AUDIENCE))).subject == "alice"
    assert verified(auth, signed(payload("unchecked", aud=["other", AUDIENCE]))).subject == "alice"


@pytest.mark.parametrize("config", CONFIGS)
def test_well_typed_claims_verify_and_are_cached(config: str) -> None:
    """The control: the same payloads with the right types pass, so the refusals above are about
    the types and nothing else."""
    auth = authenticator(**CONFIGS[config])
    token = signed(payload(config))
    identity = verified(auth, token)
    assert identity.subject == "alice"
    assert list(auth._cache) == [token.decode()]


def test_absent_registered_claims_are_not_a_type_error() -> None:
    """Only `sub` is required here (required_claims is empty): absent claims are not wrong types."""
    auth = authenticator()
    assert verified(auth, signed({"sub": "bob"})).subject == "bob"

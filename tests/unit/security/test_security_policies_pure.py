"""Pure checks of the edge-security policies: data in, assertions out (no sockets)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from portway.config.security import ApiKeyConfig, AuthConfig, JwtConfig
from portway.contract import RequestHead
from portway.policies.api_key import ApiKeyAuthenticator
from portway.policies.authorize import Authorize
from portway.policies.base import Denial, Identity
from portway.policies.identity_headers import IdentityHeaders, _header_value
from portway.policies.jwt_auth import JwtAuthenticator
from portway.policies.jwt_keys import JwtKeys, family_of_alg, family_of_key

SECRET = "s" * 64


@dataclass
class Ctx:
    head: RequestHead
    query: bytes = b""
    identity: Identity | None = None
    upstream_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    route_name: str = "r"
    client_ip: str = "127.0.0.1"


def ctx(method: str = "GET", identity: Identity | None = None, headers: Any = (), query: bytes = b"") -> Ctx:
    head = RequestHead(method, b"/", "1.1", list(headers), True, False, "127.0.0.1", 1, 0.0)
    return Ctx(head, query, identity)


# -- key families --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alg", "family"),
    [
        ("HS256", "HMAC"),
        ("HS512", "HMAC"),
        ("RS256", "RSA"),
        ("PS384", "RSA"),
        ("ES256", "EC"),
        ("EdDSA", "OKP"),
    ],
)
def test_family_of_alg(alg: str, family: str) -> None:
    assert family_of_alg(alg) == family


def test_family_of_key() -> None:
    assert family_of_key(rsa.generate_private_key(65537, 2048).public_key()) == "RSA"
    assert family_of_key(ec.generate_private_key(ec.SECP256R1()).public_key()) == "EC"
    assert family_of_key(ed25519.Ed25519PrivateKey.generate().public_key()) == "OKP"
    assert family_of_key(b"secret") is None


def test_a_key_is_only_found_for_its_own_family() -> None:
    keys = JwtKeys(JwtConfig(algorithms=["HS256"], secret=SECRET))
    rsa_public = rsa.generate_private_key(65537, 2048).public_key()
    ec_public = ec.generate_private_key(ec.SECP256R1()).public_key()
    keys.by_kid = {"r": ("RSA", rsa_public), "e": ("EC", ec_public)}
    assert keys.find("r", "RS256") is rsa_public
    assert keys.find("r", "ES256") is None  # a kid of another family is never a fallback
    assert keys.find("e", "ES256") is ec_public
    assert keys.find("r", "HS256") == SECRET.encode()  # HMAC only ever uses the secret
    assert keys.find("../../etc/passwd", "RS256") is None
    assert not keys.may_refresh()  # no JWKS URL: never a fetch


def test_no_secret_means_no_hmac_key() -> None:
    keys = JwtKeys.__new__(JwtKeys)
    keys.secret = None
    keys.by_kid = {}
    keys.static = []
    assert keys.find(None, "HS256") is None


# -- token extraction ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"authorization", b"Bearer abc")], b"abc"),
        ([(b"authorization", b"bearer   abc ")], b"abc"),
        ([(b"authorization", b"Basic abc")], None),
        ([(b"authorization", b"Bearer")], None),
        ([(b"cookie", b"a=1; session=tok; b=2")], b"tok"),
        ([(b"cookie", b"xsession=tok")], None),
        ([(b"cookie", b"session=")], None),
        ([(b"authorization", b"Bearer first"), (b"cookie", b"session=second")], b"first"),
    ],
)
def test_token_from(headers: list[tuple[bytes, bytes]], expected: bytes | None) -> None:
    auth = JwtAuthenticator(JwtConfig(algorithms=["HS256"], secret=SECRET, cookie="session"))
    assert auth.token_from(headers) == expected


# -- API keys ------------------------------------------------------------------------------------


def test_api_key_sources_and_verification() -> None:
    config = ApiKeyConfig(
        header="X-API-Key",
        query="key",
        consumers=[{"name": "c", "key_sha256": hashlib.sha256(b"k1").hexdigest(), "roles": ["r"]}],
    )
    keys = ApiKeyAuthenticator(config)
    assert keys.key_from([(b"x-api-key", b" k1 ")], b"") == b"k1"
    assert keys.key_from([], b"a=1&key=k%31") == b"k1"
    assert keys.key_from([(b"x-api-key", b"h")], b"key=q") == b"h"
    assert keys.key_from([], b"keyx=1") is None
    identity = keys.verify(b"k1")
    assert identity is not None and identity.consumer == "c" and identity.roles == ("r",)
    assert keys.verify(b"k2") is None
    assert keys.verify(hashlib.sha256(b"k1").hexdigest().encode()) is None  # the digest is not the key


# -- authorisation -------------------------------------------------------------------------------


def user(*roles: str, scopes: tuple[str, ...] = ()) -> Identity:
    return Identity("u", roles, frozenset(scopes))


def status(result: object) -> int:
    return result.status if isinstance(result, Denial) else 200


def test_roles_any_scopes_all() -> None:
    policy = Authorize(["a", "b"], ["s1", "s2"])
    assert status(policy.request(ctx(identity=user("b", scopes=("s1", "s2", "s3"))))) == 200
    assert status(policy.request(ctx(identity=user("c", scopes=("s1", "s2"))))) == 403
    assert status(policy.request(ctx(identity=user("a", scopes=("s1",))))) == 403
    assert status(policy.request(ctx())) == 401


def test_per_method_and_head() -> None:
    policy = Authorize({"GET": ["reader"], "DELETE": ["admin"]}, None)
    assert status(policy.request(ctx("GET", user("reader")))) == 200
    assert status(policy.request(ctx("HEAD", user("other")))) == 403  # HEAD inherits GET
    assert status(policy.request(ctx("HEAD", user("reader")))) == 200
    assert status(policy.request(ctx("DELETE", user("reader")))) == 403
    assert status(policy.request(ctx("POST", user()))) == 200  # not listed: no requirement
    assert status(policy.request(ctx("POST"))) == 200
    own_head = Authorize({"GET": ["reader"], "HEAD": ["anyone"]}, None)
    assert status(own_head.request(ctx("HEAD", user("anyone")))) == 200


# -- identity headers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("alice", b"alice"),
        (["a", "b"], b"a,b"),
        ("zoë", "zoë".encode()),
        ("a\r\nb", None),
        ("a\nb", None),
        ("a\x00", None),
        ("a\x7f", None),
        (["ok", "x\ry"], None),
        ("x" * 4097, None),
    ],
)
def test_header_value(value: object, expected: bytes | None) -> None:
    assert _header_value(value) == expected


def test_identity_headers_for_a_jwt_and_a_consumer() -> None:
    auth = AuthConfig(jwt=JwtConfig(algorithms=["HS256"], secret=SECRET), identity={"signing_key": "k" * 32})
    policy = IdentityHeaders(auth)
    jwt_user = Identity("alice", ("admin",), frozenset({"a", "b"}), None,
                        {"sub": "alice", "role": ["admin"], "scope": ["a", "b"]})  # fmt: skip
    c = ctx(identity=jwt_user)
    assert policy.request(c) is None
    names = [n for n, _ in c.upstream_headers]
    assert names == [b"x-user-id", b"x-user-role", b"x-user-scopes", b"x-portway-identity"]
    assert dict(c.upstream_headers)[b"x-user-scopes"] == b"a b"
    consumer = ctx(identity=Identity("consumer:c", ("svc", "ops"), frozenset({"w", "r"}), "c"))
    assert policy.request(consumer) is None
    sent = consumer.upstream_headers
    assert [n for n, _ in sent] == [
        b"x-consumer",
        b"x-user-id",
        b"x-user-role",
        b"x-user-scopes",
        b"x-portway-identity",
    ]
    assert sent[:4] == [
        (b"x-consumer", b"c"),
        (b"x-user-id", b"consumer:c"),
        (b"x-user-role", b"svc,ops"),
        (b"x-user-scopes", b"r w"),
    ]
    anonymous = ctx()
    assert policy.request(anonymous) is None and anonymous.upstream_headers == []
    bad = ctx(identity=Identity("x", (), frozenset(), None, {"sub": "x\r\nX-Evil: 1"}))
    denial = policy.request(bad)
    assert isinstance(denial, Denial) and denial.status == 401

"""The users service's key ring: first-run creation, rotation, JWKS contents, pinned keys."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shop.users.tokens import KeyFile, KeyRing, PinnedKey, SigningKey


def verify(token: str, jwks: dict) -> dict:
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks["keys"] if k["kid"] == kid)
    return jwt.decode(token, jwt.PyJWK(key).key, algorithms=["EdDSA"], audience="shop", issuer="shop-users")


def test_first_use_creates_a_private_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "users.json"
    ring = KeyFile(path, token_ttl=60).ring()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KeyFile(path, token_ttl=60).ring().active.kid == ring.active.kid  # persisted, not regenerated


def test_tokens_carry_the_claims_the_gateway_checks(tmp_path: Path) -> None:
    ring = KeyFile(tmp_path / "k.json", token_ttl=60).ring()
    claims = verify(ring.issue(subject="u1", role="admin"), ring.jwks())
    assert claims["sub"] == "u1" and claims["role"] == "admin"
    assert claims["exp"] - claims["iat"] == 60


def test_rotation_keeps_old_tokens_verifiable_until_they_expire(tmp_path: Path) -> None:
    keys = KeyFile(tmp_path / "k.json", token_ttl=60)
    old_token = keys.ring().issue(subject="u1", role="customer")
    rotated = keys.rotate()
    assert len(rotated.jwks()["keys"]) == 2
    verify(old_token, rotated.jwks())
    assert (
        jwt.get_unverified_header(rotated.issue(subject="u1", role="customer"))["kid"] == rotated.active.kid
    )


def test_a_retired_key_leaves_the_jwks_after_its_tokens_expired() -> None:
    long_ago = time.time() - 3600
    retired = SigningKey(Ed25519PrivateKey.generate(), long_ago, retired_at=long_ago)
    ring = KeyRing([SigningKey(Ed25519PrivateKey.generate(), time.time()), retired], token_ttl=60)
    assert [k["kid"] for k in ring.jwks()["keys"]] == [ring.active.kid]
    assert len(ring.rotated().keys) == 2  # the expired one is dropped from the file too


def test_a_pinned_key_must_be_ed25519() -> None:
    pem = (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    assert PinnedKey(pem, 60).ring().active.kid
    with pytest.raises(ValueError):
        PinnedKey("not a key", 60)

"""Signing keys and access tokens.

Rules:
- Tokens are EdDSA (Ed25519) JWTs: ``iss=shop-users``, ``aud=shop``, ``sub``, ``role``, ``scope``,
  ``iat``, ``exp``, ``jti``, and ``kid`` in the header. They live ``USERS_TOKEN_TTL`` seconds.
- The key ring lives in ``USERS_SIGNING_KEY_FILE`` (JSON, mode 0600), created on first run. The first
  key signs. ``rotate`` puts a new key first and marks the old one retired; a retired key stays in the
  JWKS until every token it signed has expired, then leaves the file at the next rotation.
- ``USERS_SIGNING_KEY`` (a PEM private key) instead pins one key, for deployments that keep secrets in
  the environment; rotation is then the deployment's job.
- Replicas share the file; each re-reads it when it changes, so a rotation reaches all of them.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ISSUER = "shop-users"
AUDIENCE = "shop"
RECHECK_SECONDS = 5.0
LEEWAY_SECONDS = 60  # clock skew allowed to verifiers


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class SigningKey:
    private: Ed25519PrivateKey
    created_at: float
    retired_at: float | None = None

    @property
    def public_jwk(self) -> dict[str, str]:
        raw = self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}

    @property
    def kid(self) -> str:
        """The RFC 7638 thumbprint of the public key: stable, and needs no bookkeeping."""
        canonical = json.dumps(self.public_jwk, sort_keys=True, separators=(",", ":")).encode()
        return _b64url(hashlib.sha256(canonical).digest())

    def to_json(self) -> dict[str, Any]:
        pem = self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return {"private_key": pem.decode(), "created_at": self.created_at, "retired_at": self.retired_at}

    @classmethod
    def from_pem(cls, pem: str, created_at: float, retired_at: float | None = None) -> SigningKey:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the users signing key must be an Ed25519 private key")
        return cls(key, created_at, retired_at)


class KeyRing:
    def __init__(self, keys: list[SigningKey], token_ttl: int) -> None:
        if not keys:
            raise ValueError("a key ring needs at least one key")
        self.keys = keys
        self.token_ttl = token_ttl

    @property
    def active(self) -> SigningKey:
        return self.keys[0]

    def _published(self, now: float) -> list[SigningKey]:
        grace = self.token_ttl + LEEWAY_SECONDS
        return [k for k in self.keys if k.retired_at is None or now < k.retired_at + grace]

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {
            "keys": [
                {**k.public_jwk, "kid": k.kid, "alg": "EdDSA", "use": "sig"}
                for k in self._published(time.time())
            ]
        }

    def issue(self, *, subject: str, role: str, scopes: str = "") -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "role": role,
            "scope": scopes,
            "iat": now,
            "exp": now + self.token_ttl,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.active.private, algorithm="EdDSA", headers={"kid": self.active.kid})

    def rotated(self) -> KeyRing:
        now = time.time()
        kept = [k if k.retired_at else SigningKey(k.private, k.created_at, now) for k in self._published(now)]
        return KeyRing([SigningKey(Ed25519PrivateKey.generate(), now), *kept], self.token_ttl)


class KeyFile:
    """The key ring's file: created on first use, re-read when it changes, written atomically."""

    def __init__(self, path: Path, token_ttl: int) -> None:
        self.path = path
        self.token_ttl = token_ttl
        self._ring: KeyRing | None = None
        self._mtime = 0.0
        self._checked = 0.0

    def ring(self) -> KeyRing:
        now = time.monotonic()
        if self._ring is None or now - self._checked > RECHECK_SECONDS:
            self._checked = now
            mtime = self.path.stat().st_mtime if self.path.exists() else 0.0
            if self._ring is None or mtime != self._mtime:
                self._ring = self._load_or_create()
                self._mtime = self.path.stat().st_mtime
        return self._ring

    def rotate(self) -> KeyRing:
        with self._locked():
            ring = self._read().rotated() if self.path.exists() else self._new()
            self._write(ring)
        self._ring = None
        return ring

    def _load_or_create(self) -> KeyRing:
        with self._locked():  # two replicas starting together must not make two different keys
            if not self.path.exists():
                self._write(self._new())
            return self._read()

    def _new(self) -> KeyRing:
        return KeyRing([SigningKey(Ed25519PrivateKey.generate(), time.time())], self.token_ttl)

    def _read(self) -> KeyRing:
        data = json.loads(self.path.read_text())
        keys = [
            SigningKey.from_pem(k["private_key"], k["created_at"], k.get("retired_at")) for k in data["keys"]
        ]
        return KeyRing(keys, self.token_ttl)

    def _write(self, ring: KeyRing) -> None:
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"keys": [k.to_json() for k in ring.keys]}, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def _locked(self) -> _FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return _FileLock(self.path.with_suffix(".lock"))


class _FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = -1

    def __enter__(self) -> None:
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *_exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)


class PinnedKey:
    """``USERS_SIGNING_KEY``: one key from the environment, never rotated here."""

    def __init__(self, pem: str, token_ttl: int) -> None:
        self._ring = KeyRing([SigningKey.from_pem(pem, time.time())], token_ttl)

    def ring(self) -> KeyRing:
        return self._ring


def key_source(pem: str, key_file: Path, token_ttl: int) -> KeyFile | PinnedKey:
    return PinnedKey(pem, token_ttl) if pem else KeyFile(key_file, token_ttl)

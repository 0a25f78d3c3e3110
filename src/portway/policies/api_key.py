"""API keys: consumers are declared with the SHA-256 of their key, never the key itself.

The presented key is hashed and compared with every consumer's digest using a constant-time
comparison (no early exit on the first match either), so timing reveals neither which consumer
matched nor how much of a digest did.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl

from portway.config.security import ApiKeyConfig
from portway.policies.base import Identity


class ApiKeyAuthenticator:
    def __init__(self, config: ApiKeyConfig) -> None:
        self.header = config.header.lower().encode() if config.header else None
        self.query = config.query
        self.consumers = [
            (
                bytes.fromhex(c.key_sha256),
                Identity(
                    subject=f"consumer:{c.name}",
                    roles=tuple(c.roles),
                    scopes=frozenset(c.scopes),
                    consumer=c.name,
                ),
            )
            for c in config.consumers
        ]

    def key_from(self, headers: list[tuple[bytes, bytes]], query: bytes) -> bytes | None:
        if self.header is not None:
            for name, value in headers:
                if name == self.header:
                    return value.strip()
        if self.query is not None and query:
            for param, text in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
                if param == self.query:
                    return text.encode("latin-1")
        return None

    def verify(self, key: bytes) -> Identity | None:
        digest = hashlib.sha256(key).digest()
        found = None
        for expected, identity in self.consumers:
            if hmac.compare_digest(digest, expected):
                found = identity
        return found

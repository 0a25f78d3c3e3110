"""The running config's version: a short, stable digest of the effective config.

- Stable: the same config gives the same version in every worker and after a restart (the JSON is
  canonical: sorted keys, no whitespace), so "did every worker reload?" is a string comparison.
- Effective: computed from the validated config (defaults filled in, ``${VAR}`` substituted), so a
  reformatted file with the same meaning keeps its version, and a changed variable it uses changes it.
- A rotated secret changes it, but the version must not let anyone test guesses of a secret
  offline against it (the rest of the config is on /config): secrets enter only through scrypt, so
  each guess costs what a password hash costs (~0.1 s). Computed once per config when asked, in a
  thread (admin/source.py): never on the event loop, never per request.
"""

from __future__ import annotations

import hashlib
import json

from portway.admin.redact import Removed

_SALT = b"portway config version"


def config_version(redacted: object, removed: Removed) -> str:
    canonical = json.dumps(redacted, sort_keys=True, separators=(",", ":")).encode()
    secrets = json.dumps(sorted(removed), separators=(",", ":")).encode()
    hardened = hashlib.scrypt(secrets, salt=_SALT, n=2**14, r=8, p=1, dklen=32) if removed else b""
    return hashlib.sha256(canonical + b"\0" + hardened).hexdigest()[:16]

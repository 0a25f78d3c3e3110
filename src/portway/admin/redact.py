"""The running config as the admin API shows it: every secret replaced by ``<redacted>``.

Rules, applied to the config as JSON (``model_dump(mode="json")``):
- the keys known to hold secrets (:data:`SECRET_PATHS`: the admin token, the JWT HMAC secret, the
  identity signing key, API-key digests, the tracing exporter's headers) are redacted whatever
  their value;
- as a net for keys added later, any string under a key whose name says secret (:data:`_NAME`:
  ``password``, ``token``, ``secret``, ``api_key``…) is redacted too;
- in every string that is a URL, a password in the userinfo (``redis://:pw@host``) and the value of
  a secret-named query parameter (``?password=pw``) are redacted, the rest of the URL kept;
- paths to key files stay (they say where the key is, not what it is); key material is never in
  the config, only in the files it names. ``null`` stays ``null``: "not set" is not a secret.

:func:`redact` also returns what it removed, so the config's version (admin/version.py) can
change when only a secret does.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "<redacted>"
WILDCARD = "*"
SECRET_PATHS: tuple[tuple[str, ...], ...] = (
    ("admin", "token"),
    ("auth", "jwt", "secret"),
    ("auth", "identity", "signing_key"),
    ("auth", "api_keys", "consumers", WILDCARD, "key_sha256"),  # a digest, but of a key: guessable
    ("tracing", "headers", WILDCARD),  # a collector's API key travels in one
)
_NAME = re.compile(
    r"pass(word|wd)?|secret|token|api_?key|private_?key|signing_?key|credential|authoriz", re.I
)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)

Json = object
Removed = list[tuple[str, str]]  # (dotted path, the secret)


def redact(doc: Json) -> tuple[Json, Removed]:
    removed: Removed = []
    return _walk(doc, (), removed), removed


def _walk(value: Json, path: tuple[str, ...], removed: Removed) -> Json:
    if isinstance(value, dict):
        return {key: _walk(item, (*path, str(key)), removed) for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, (*path, str(i)), removed) for i, item in enumerate(value)]
    if not isinstance(value, str):
        return value
    if _is_secret(path):
        removed.append((".".join(path), value))
        return REDACTED
    if _URL.match(value):
        return _redact_url(value, ".".join(path), removed)
    return value


def _is_secret(path: tuple[str, ...]) -> bool:
    for pattern in SECRET_PATHS:
        if len(pattern) == len(path) and all(p in (WILDCARD, q) for p, q in zip(pattern, path, strict=True)):
            return True
    # An item of a list is named by the list's key (`tokens: [...]`).
    name = next((part for part in reversed(path) if not part.isdigit()), "")
    return _NAME.search(name) is not None


def _redact_url(url: str, where: str, removed: Removed) -> str:
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL after all (an unbalanced '['): keep it as text
        return url
    netloc = parts.netloc
    if password is not None:
        removed.append((where, password))
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:{REDACTED}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_NAME.search(name) for name, _ in pairs):
            removed += [(f"{where}?{name}", v) for name, v in pairs if _NAME.search(name)]
            query = urlencode([(n, REDACTED if _NAME.search(n) else v) for n, v in pairs], safe="<>")
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))

"""Request-time templates in config values: literal text with ``${variable}`` references, filled in
per request (header transforms, aggregation call paths). Parsed and checked at load; an unknown
variable is a config error with its line, never a surprise on the first request.

Rules:
- Variables: ``request_id``, ``client_ip``, ``route``, ``method``, ``path``, ``host``,
  ``header.<Name>`` (the request's first such header) and ``claims.<name>`` (the verified
  identity; ``claims.sub`` is the subject of a JWT or an API-key consumer alike).
- ``${X}`` for any other plain name is the config-time environment interpolation
  (config/interpolate.py), done by the loader before this parser sees the value; the names above
  are left for the request (:data:`REQUEST_NAMES`), so an environment variable cannot share them.
- ``$$`` is a literal ``$`` (the loader has already turned it into one); a ``$`` that starts no
  reference is kept as written.
"""

from __future__ import annotations

import re

# The plain names the loader must leave alone (not environment variables) in template values.
REQUEST_NAMES = frozenset({"request_id", "client_ip", "route", "method", "path", "host"})
_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")  # a header name (RFC 9110 §5.6.2)
_CLAIM = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]*$")

# A part is literal text, or a variable as (kind, argument): ("request_id", ""), ("header", "x-a").
Part = str | tuple[str, str]


def parse_template(text: str) -> tuple[Part, ...]:
    """The template's parts; raises ValueError naming an unknown or malformed variable."""
    parts: list[Part] = []
    at = 0
    for match in _REFERENCE.finditer(text):
        if match.start() > at:
            parts.append(text[at : match.start()])
        parts.append(_variable(match.group(1)))
        at = match.end()
    if at < len(text):
        parts.append(text[at:])
    for part in parts:
        if isinstance(part, str) and "${" in part:
            raise ValueError(f"{part[part.index('${') :]!r}: a variable without its closing '}}'")
    return tuple(parts)


def _variable(name: str) -> tuple[str, str]:
    if name in REQUEST_NAMES:
        return (name, "")
    kind, dot, argument = name.partition(".")
    if dot and kind == "header" and _TOKEN.match(argument):
        return ("header", argument.lower())
    if dot and kind == "claims" and _CLAIM.match(argument):
        return ("claims", argument)
    known = ", ".join(sorted(REQUEST_NAMES)) + ", header.<Name>, claims.<name>"
    raise ValueError(f"unknown variable ${{{name}}} (known: {known})")

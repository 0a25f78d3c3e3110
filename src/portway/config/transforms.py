"""Config models for header transforms (docs/policies/headers.md): per route, or a gateway-wide
default a route's own ``headers:`` replaces (``headers: false`` turns it off there).

Headers the gateway owns cannot be set, added or removed: framing and hop-by-hop headers
(``Host``, ``Content-Length``, ``Transfer-Encoding``, ``Connection``…), ``X-Request-Id``, trace
context (``traceparent``, ``tracestate``), forwarding (``X-Forwarded-*``, ``Forwarded``,
``X-Real-IP``…) and identity (``X-User-*``, ``X-Consumer*``, ``X-Portway-*``; the configured
identity and claim headers are checked across keys, in config/references.py). A transform there
would fight the gateway's own handling of it: a template in ``Content-Length`` is request smuggling,
one in ``X-User-Id`` a forged identity.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, model_validator

from portway.config.models_base import Model
from portway.config.templates import parse_template
from portway.headers import FORWARDING, FORWARDING_PREFIXES, GATEWAY_SET, H2C, HOP_BY_HOP, IDENTITY_PREFIXES

_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
MAX_VALUE = 4096  # a rendered value past it is dropped (policies/templates.py): so is a literal one
OWNED = HOP_BY_HOP | GATEWAY_SET | FORWARDING | H2C | {b"traceparent", b"tracestate"}
OWNED_PREFIXES = (*FORWARDING_PREFIXES, *IDENTITY_PREFIXES)


def canonical(name: str) -> bytes:
    """The header as back ends read it: any case, ``_`` for ``-`` (CGI-style servers)."""
    return name.lower().replace("_", "-").encode()


def check_free(name: str) -> str:
    if not _HEADER_NAME.match(name):
        raise ValueError(f"invalid header name {name!r}")
    lower = canonical(name)
    if lower in OWNED or lower.startswith(OWNED_PREFIXES):
        raise ValueError(f"{name}: the gateway sets or removes that header itself")
    return name


def _template(value: str) -> str:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError("a control character (CR, LF, TAB…) cannot be sent in a header value")
    if len(value.encode()) > MAX_VALUE:
        raise ValueError(f"longer than {MAX_VALUE} bytes: no value that long would be sent")
    parse_template(value)
    return value


HeaderName = Annotated[str, AfterValidator(check_free)]
Template = Annotated[str, AfterValidator(_template)]


class HeaderEdits(Model):
    """One direction's edits, applied in this order: remove, set (replaces), add (appends)."""

    set: dict[HeaderName, Template] = {}
    add: dict[HeaderName, Template] = {}
    remove: list[HeaderName] = []

    @model_validator(mode="after")
    def _once(self) -> HeaderEdits:
        # Remove-then-set of one name is just `set`; a name in two lists reads as two intentions.
        seen: dict[bytes, str] = {}
        for key in ("remove", "set", "add"):
            for name in getattr(self, key):
                if canonical(name) in seen:
                    raise ValueError(f"{name} is named twice (in `{seen[canonical(name)]}` and `{key}`)")
                seen[canonical(name)] = key
        return self

    def __bool__(self) -> bool:
        return bool(self.set or self.add or self.remove)


class HeaderTransforms(Model):
    request: HeaderEdits = HeaderEdits()  # on the request sent upstream
    response: HeaderEdits = HeaderEdits()  # on the upstream's response, before it is sent on

    def __bool__(self) -> bool:
        return bool(self.request or self.response)

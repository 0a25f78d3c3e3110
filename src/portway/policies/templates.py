"""Request-time templates, compiled: parsed parts (config/templates.py) in, a :class:`Template` that
renders bytes from a request's :class:`~portway.policies.base.Context` out.

Rules:
- Compiled once at load: each variable becomes a bound getter, a template without variables its
  bytes, so a request pays one call per variable and no parsing.
- Values are UTF-8. ``${claims.sub}`` is the verified subject (a JWT's ``sub``, an API-key
  consumer's subject); another claim is a JWT claim of that name: a list joined with ``,``, a
  boolean ``true``/``false``, an object as compact JSON. Without an identity (an anonymous
  request, an ``auth: none`` route), claims, like absent headers, are empty.
- A rendered value holding a control character (CR, LF, NUL, TAB, DEL…) or longer than
  :data:`MAX_VALUE` is refused: :meth:`Template.render` returns ``None`` and the caller drops it,
  so nothing a client or a claim holds can end a header line or inject another.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from portway.config import transforms
from portway.config.templates import Part, parse_template
from portway.policies.base import Context

MAX_VALUE = transforms.MAX_VALUE  # the identity headers' bound (policies/identity_headers.py)
_UNSAFE = frozenset(range(0x20)) | {0x7F}

Getter = Callable[[Context], bytes]
Encoder = Callable[[str, bytes], bytes]  # (variable kind, value) → value as placed in the output


def _path(ctx: Context) -> bytes:
    target = ctx.head.target
    if target[:1] != b"/":  # absolute-form (a proxy-style request): the path after the authority
        rest = target.partition(b"://")[2]
        target = b"/" + rest.partition(b"/")[2]
    return target.partition(b"?")[0]


_GETTERS: dict[str, Getter] = {
    "request_id": lambda ctx: ctx.head.request_id.encode(),
    "client_ip": lambda ctx: ctx.client_ip.encode(),
    "route": lambda ctx: ctx.route_name.encode(),
    "method": lambda ctx: ctx.head.method.encode(),
    "path": _path,
    "host": lambda ctx: ctx.head.host or b"",
}


def _header(name: str) -> Getter:
    key = name.encode()
    return lambda ctx: ctx.head.header(key) or b""


def claim_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return ",".join(claim_text(v) for v in value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def _claim(name: str) -> Getter:
    def get(ctx: Context) -> bytes:
        identity = ctx.identity
        if identity is None:
            return b""
        if name == "sub":
            return identity.subject.encode()
        value = identity.claims.get(name)
        return b"" if value is None else claim_text(value).encode()

    return get


def _getter(part: tuple[str, str]) -> Getter:
    kind, argument = part
    if kind == "header":
        return _header(argument)
    if kind == "claims":
        return _claim(argument)
    return _GETTERS[kind]


class Template:
    """``render(ctx)``: the value for this request, or ``None`` when it would be unsafe to send."""

    __slots__ = ("literal", "parts", "source")

    def __init__(self, source: str, encode: Encoder | None = None) -> None:
        self.source = source
        parsed: tuple[Part, ...] = parse_template(source)
        compiled: list[bytes | Getter] = []
        for part in parsed:
            if isinstance(part, str):
                compiled.append(part.encode())
            elif encode is None:
                compiled.append(_getter(part))
            else:
                compiled.append(_encoded(part[0], _getter(part), encode))
        self.parts = tuple(compiled)
        literals = [p for p in compiled if isinstance(p, bytes)]
        self.literal: bytes | None = b"".join(literals) if len(literals) == len(compiled) else None
        if self.literal is not None and not _safe(self.literal):
            raise ValueError(f"{source!r}: a control character or over {MAX_VALUE} bytes")

    def __repr__(self) -> str:
        return f"<Template {self.source!r}>"

    def render(self, ctx: Context) -> bytes | None:
        if self.literal is not None:
            return self.literal
        value = b"".join(p if isinstance(p, bytes) else p(ctx) for p in self.parts)
        return value if _safe(value) else None


def _encoded(kind: str, getter: Getter, encode: Encoder) -> Getter:
    return lambda ctx: encode(kind, getter(ctx))


def _safe(value: bytes) -> bool:
    return len(value) <= MAX_VALUE and not _UNSAFE.intersection(value)

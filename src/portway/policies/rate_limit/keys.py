"""Bucket keys: what a rule counts requests by.

A rule's ``key`` is one part or several joined by ``+`` (``ip``, ``user``, ``api_key``, ``route``,
``header:<Name>``). Each part renders with a tag (``i:``, ``u:``, ``k:``, ``r:``, ``h:``) so values of
different kinds never meet in one bucket: a user named ``10.0.0.1`` is not that address. ``user``
and ``api_key`` fall back to the client IP for anonymous requests, and a missing header falls back
to the IP too, so leaving a credential or header out never buys a shared, unlimited bucket.

Combined parts are length-prefixed so ``a+b`` / ``c`` cannot collide with ``a`` / ``b+c``. Keys
longer than :data:`MAX_KEY` (a header value is client-controlled and may be kilobytes) are replaced
by a 128-bit BLAKE2b digest, which bounds the memory a bucket costs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from portway.policies.base import Context

KeyFn = Callable[[Context], str]
MAX_KEY = 96


def _ip(ctx: Context) -> str:
    return "i:" + ctx.client_ip


def _user(ctx: Context) -> str:
    identity = ctx.identity
    return "i:" + ctx.client_ip if identity is None else "u:" + identity.subject


def _api_key(ctx: Context) -> str:
    identity = ctx.identity
    if identity is None or identity.consumer is None:
        return "i:" + ctx.client_ip
    return "k:" + identity.consumer


def _route(ctx: Context) -> str:
    return "r:" + ctx.route_name


def _header(name: str) -> KeyFn:
    lower = name.lower().encode("ascii")

    def header(ctx: Context) -> str:
        value = ctx.head.header(lower)
        # latin-1 maps every byte, so any header value renders without an error path.
        return "i:" + ctx.client_ip if value is None else "h:" + value.decode("latin-1")

    return header


_PARTS: dict[str, KeyFn] = {"ip": _ip, "user": _user, "api_key": _api_key, "route": _route}


def _part(spec: str) -> KeyFn:
    if spec.startswith("header:"):
        return _header(spec[7:])
    try:
        return _PARTS[spec]
    except KeyError:
        raise ValueError(f"unknown rate-limit key part {spec!r}") from None


def _bounded(key: str) -> str:
    if len(key) <= MAX_KEY:
        return key
    return "#" + hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def compile_key(spec: str) -> KeyFn:
    """The function rendering a rule's ``key`` (``"ip"``, ``"user+header:X-Tenant"``…) for a request."""
    parts = [_part(p) for p in spec.split("+")]
    if len(parts) == 1:
        (only,) = parts
        return lambda ctx: _bounded(only(ctx))

    def combined(ctx: Context) -> str:
        rendered = [fn(ctx) for fn in parts]
        return _bounded("".join(f"{len(r)}{r}" for r in rendered))

    return combined

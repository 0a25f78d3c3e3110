"""Route policy: header transforms (``headers:`` per route, or gateway-wide) on the request sent
upstream and on the upstream's response (docs/policies/headers.md).

Rules:
- Each side applies ``remove``, then ``set`` (the client's or upstream's copies removed, the
  gateway's value added once), then ``add`` (appended beside any copies).
- Names match in any case; on the request side also with ``_`` for ``-`` (``X_Debug``), which
  CGI-style back ends read as the same header, so a removed header cannot come back respelled.
- Values are templates (policies/templates.py). A value that renders empty, or unsafe (control
  characters, over 4 KB), is not sent; a ``set`` still removes the original, so the upstream never
  sees a client's value where the gateway's was meant to be.
- Runs after identity headers (policies/chain.py ORDER), so ``${claims.*}`` reads a verified
  identity. The response side edits the upstream's head only: the gateway's own answers
  (problem+json, preflights) and headers other policies add (CORS, RateLimit) are untouched.
- The config can name no header the gateway owns (config/transforms.py): whatever this policy
  does, framing, forwarding, trace context and identity stay the gateway's.
"""

from __future__ import annotations

import logging

from portway.config.transforms import HeaderEdits, HeaderTransforms, canonical
from portway.policies.base import Context, PolicyResult, Reply
from portway.policies.templates import Template

log = logging.getLogger("portway.policies")

Header = tuple[bytes, bytes]


class _Side:
    """One direction's edits, compiled."""

    __slots__ = ("drop", "out")

    def __init__(self, edits: HeaderEdits) -> None:
        self.drop = frozenset(canonical(n) for n in [*edits.remove, *edits.set])
        edited = [*edits.set.items(), *edits.add.items()]
        self.out = tuple((name.lower().encode(), Template(value)) for name, value in edited)

    def values(self, ctx: Context) -> list[Header]:
        out = []
        for name, template in self.out:
            value = template.render(ctx)
            if value is None:
                # A client-controlled part (a header, a claim) held a control byte: never sent.
                log.debug("header %s not sent for request %s: unsafe value", name, ctx.head.request_id)
            elif value:
                out.append((name, value))
        return out


class HeaderTransformPolicy:
    name = "headers"

    def __init__(self, config: HeaderTransforms) -> None:
        self.upstream = _Side(config.request)
        self.downstream = _Side(config.response)

    def request(self, ctx: Context) -> PolicyResult:
        side = self.upstream
        if side.drop:
            drop = side.drop
            head = ctx.head
            head.headers = [h for h in head.headers if h[0].replace(b"_", b"-") not in drop]
        if side.out:
            ctx.upstream_headers += side.values(ctx)
        return None

    def response(self, ctx: Context, reply: Reply) -> None:
        headers = reply.headers
        side = self.downstream
        if side.drop:
            drop = side.drop
            headers[:] = [h for h in headers if h[0].lower().replace(b"_", b"-") not in drop]
        if side.out:
            headers += side.values(ctx)

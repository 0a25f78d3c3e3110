"""An aggregate route, compiled at load: its calls (upstream, path template, key, timeout), the
mode and the byte limit; :meth:`AggregatePlan.run` makes the calls in parallel for one request.

Rules:
- Variables in a call's path are percent-encoded (``${claims.sub}`` of ``a/b?c`` stays one
  segment: ``a%2Fb%3Fc``); ``${path}``, already a path, keeps its ``/`` and escapes.
- Every call runs at once with its own timeout; the answer waits for the slowest (bounded by the
  longest timeout). A call that fails is logged and marks the answer partial; bytes past
  ``max_bytes`` (the calls' bodies together, or the merged document) end every call and the
  request with a 502; every call failing is a 502 too (:class:`AllCallsFailed`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from portway.config.aggregate import Aggregate
from portway.errors import UpstreamError
from portway.forward.aggregate.call import Budget, CallFailed, TooLarge, call_head, fetch
from portway.forward.aggregate.combine import combine
from portway.forward.rules import ForwardingRules
from portway.policies.base import Context
from portway.policies.templates import Template
from portway.upstream import Upstream

log = logging.getLogger("portway.proxy")

Header = tuple[bytes, bytes]


class AllCallsFailed(UpstreamError):
    public = "none of the aggregated upstream calls answered"


class CallContext(Context, Protocol):
    """What a call needs of its request beyond a policy's view (the aggregate exchange)."""

    rules: ForwardingRules

    def call_headers(self) -> list[Header]:
        """The policies' headers and trace context every call carries."""
        ...


def _encode(kind: str, value: bytes) -> bytes:
    return quote(value, safe="/%" if kind == "path" else "").encode("ascii")


@dataclass(frozen=True, slots=True)
class CallPlan:
    key: str
    upstream: Upstream
    path: Template
    timeout: float

    async def fetch(self, ctx: CallContext, extra: list[Header], budget: Budget) -> bytes:
        target = self.path.render(ctx)
        if target is None:
            raise CallFailed(f"the path {self.path.source!r} renders over the length a path may have")
        head = ctx.head
        upstream = self.upstream
        try:
            pool = upstream.pick(head)
        except UpstreamError as exc:
            raise CallFailed(f"{type(exc).__name__}: {exc}") from None
        host = head.host if upstream.preserve_host and head.host else pool.target.host_header
        request = call_head(target, host, head, ctx.client_ip, ctx.rules.proto, extra)
        return await fetch(pool, request, self.timeout, budget)


class AggregatePlan:
    def __init__(self, config: Aggregate, route_upstream: str | None, upstreams: dict[str, Upstream]) -> None:
        self.mode = config.mode
        self.max_bytes = config.max_bytes
        calls = []
        for call in config.calls:
            name = call.upstream or route_upstream
            assert name is not None  # config/references.py refused a call without an upstream
            upstream = upstreams[name]
            timeout = call.timeout if call.timeout is not None else upstream.read_timeout
            calls.append(CallPlan(call.key, upstream, Template(call.path, _encode), timeout))
        self.calls = tuple(calls)
        self.keys = tuple(call.key for call in calls)

    def __repr__(self) -> str:
        return f"<AggregatePlan {self.mode} {', '.join(self.keys)}>"

    async def run(self, ctx: CallContext) -> tuple[bytes, list[str]]:
        """The merged JSON and the keys of the calls that failed; raises a 502's error."""
        budget = Budget(self.max_bytes)
        extra = ctx.call_headers()
        outcomes: list[bytes | None] = [None] * len(self.calls)

        async def one(index: int, call: CallPlan) -> None:
            try:
                outcomes[index] = await call.fetch(ctx, extra, budget)
            except CallFailed as exc:
                log.warning(
                    "aggregate %s: call %s (upstream %s) failed for request %s: %s",
                    ctx.route_name, call.key, call.upstream.name, ctx.head.request_id, exc.reason,
                )  # fmt: skip

        try:
            async with asyncio.TaskGroup() as group:
                for index, call in enumerate(self.calls):
                    group.create_task(one(index, call))
        except BaseExceptionGroup as found:
            too_large = found.subgroup(TooLarge)
            if too_large is None:
                raise
            raise TooLarge(f"the calls brought over {self.max_bytes} bytes") from None
        combined = combine(self.mode, self.keys, outcomes)
        if combined is None:
            raise AllCallsFailed(f"all {len(self.calls)} calls failed")
        document, failed = combined
        # ASCII escapes: a call's JSON may hold a lone surrogate ("\\ud800"), which UTF-8 cannot encode.
        body = json.dumps(document, separators=(",", ":")).encode()
        if len(body) > self.max_bytes:
            raise TooLarge(f"the merged document is {len(body)} bytes, over {self.max_bytes}")
        return body, failed

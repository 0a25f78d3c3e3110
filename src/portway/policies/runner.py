"""Running a route's hooks: one loop for the request hooks, synchronous or awaitable, and the
chaining of the body filters its response hooks return.

:func:`run` walks the hooks from ``index`` until one returns something: a denial, or an awaitable
(a hook needing I/O). :func:`settle` awaits such a result and goes on with :func:`run` until the
chain is through. A hook that raises is contained: that request is denied with a 500 and the
error logged with its request id, nothing else is disturbed (STYLE.md, after mitmproxy's addons).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable

from portway.errors import ClientError
from portway.policies.base import BodyFilter, Context, Denial, PolicyResult, Reply, RequestHook, ResponseHook

log = logging.getLogger("portway.policies")


def _failed(hook: object, ctx: Context) -> ClientError:
    name = getattr(getattr(hook, "__self__", None), "name", hook)
    log.exception("policy %s failed for request %s", name, ctx.head.request_id)
    return ClientError(500, "the gateway could not evaluate this request")


def run(hooks: tuple[RequestHook, ...], ctx: Context, index: int = 0) -> tuple[int, PolicyResult]:
    """``(next index, result)``: ``result`` is ``None`` when every hook let the request through."""
    count = len(hooks)
    while index < count:
        hook = hooks[index]
        index += 1
        try:
            result = hook(ctx)
        except Exception:
            return index, _failed(hook, ctx)
        if result is not None:
            return index, result
    return index, None


async def settle(
    hooks: tuple[RequestHook, ...], ctx: Context, index: int, pending: Awaitable[Denial | None]
) -> tuple[int, Denial | None]:
    """Await a hook's pending result, then run the rest of the chain: ``(index after the hook that
    decided, verdict)``, the verdict ``None`` when every hook let the request through."""
    while True:
        try:
            result: PolicyResult = await pending
        except Exception:
            return index, _failed(hooks[index - 1], ctx)
        if result is None:
            index, result = run(hooks, ctx, index)
            if result is None:
                return index, None
        if not inspect.isawaitable(result):
            return index, result
        pending = result


class _Filters:
    """Several body filters as one: each chunk passes them in hook order, as the head did."""

    __slots__ = ("filters",)

    def __init__(self, filters: list[BodyFilter]) -> None:
        self.filters = filters

    def data(self, chunk: bytes) -> bytes:
        for body_filter in self.filters:
            if not chunk:
                break
            chunk = body_filter.data(chunk)
        return chunk

    def end(self) -> bytes:
        tail = b""
        for body_filter in self.filters:
            if tail:
                tail = body_filter.data(tail)
            tail += body_filter.end()
        return tail

    def abort(self) -> None:
        for body_filter in self.filters:
            body_filter.abort()


def run_response(hooks: tuple[ResponseHook, ...], ctx: Context, reply: Reply) -> BodyFilter | None:
    """Run the response hooks on ``reply`` (edited in place); the body filter they ask for, if any.
    A hook that raises is contained: logged, and the response goes on without its edit."""
    filters: list[BodyFilter] = []
    for hook in hooks:
        try:
            body_filter = hook(ctx, reply)
        except Exception:
            log.exception("response hook failed for request %s", ctx.head.request_id)
            continue
        if body_filter is not None:
            filters.append(body_filter)
    if not filters:
        return None
    return filters[0] if len(filters) == 1 else _Filters(filters)

"""The one policy-chain runner (policies/runner.py): synchronous hooks, awaitable ones in the
middle, denials that stop the chain, and a hook that raises (a 500, the rest never runs)."""

from __future__ import annotations

from collections.abc import Awaitable

from policy_support import FakeContext

from portway.errors import ClientError
from portway.policies.base import Context, Denial, PolicyResult
from portway.policies.runner import run, settle


class Step:
    def __init__(self, calls: list[str], name: str, result: PolicyResult = None, wait: bool = False) -> None:
        self.calls, self.name, self.result, self.wait = calls, name, result, wait

    def request(self, ctx: Context) -> PolicyResult:
        self.calls.append(self.name)
        if self.wait:
            return self._later()
        return self.result

    async def _later(self) -> Denial | None:
        self.calls.append(self.name + " done")
        return self.result if not isinstance(self.result, Awaitable) else None


def test_all_hooks_pass() -> None:
    calls: list[str] = []
    hooks = tuple(Step(calls, n).request for n in "abc")
    assert run(hooks, FakeContext()) == (3, None)
    assert calls == ["a", "b", "c"]


def test_a_denial_stops_the_chain() -> None:
    calls: list[str] = []
    denial = ClientError(403, "no")
    hooks = (Step(calls, "a").request, Step(calls, "b", denial).request, Step(calls, "c").request)
    assert run(hooks, FakeContext()) == (2, denial)
    assert calls == ["a", "b"]


def test_a_raising_hook_is_a_500_and_the_rest_never_runs() -> None:
    calls: list[str] = []

    def broken(ctx: Context) -> PolicyResult:
        raise RuntimeError("bug")

    index, result = run((broken, Step(calls, "b").request), FakeContext())
    assert index == 1 and isinstance(result, ClientError) and result.status == 500
    assert calls == []


async def test_awaitables_in_the_middle_resume_the_chain() -> None:
    calls: list[str] = []
    hooks = (
        Step(calls, "a").request,
        Step(calls, "b", wait=True).request,
        Step(calls, "c").request,
        Step(calls, "d", wait=True).request,
        Step(calls, "e").request,
    )
    ctx = FakeContext()
    index, pending = run(hooks, ctx)
    assert index == 2 and isinstance(pending, Awaitable)
    assert await settle(hooks, ctx, index, pending) == (5, None)
    assert calls == ["a", "b", "b done", "c", "d", "d done", "e"]


async def test_an_awaited_denial_stops_the_chain() -> None:
    calls: list[str] = []
    denial = ClientError(429, "slow down")
    hooks = (Step(calls, "a", denial, wait=True).request, Step(calls, "b").request)
    ctx = FakeContext()
    index, pending = run(hooks, ctx)
    assert isinstance(pending, Awaitable)
    assert await settle(hooks, ctx, index, pending) == (1, denial)  # just past the hook that denied
    assert calls == ["a", "a done"]


async def test_an_awaitable_that_raises_is_a_500() -> None:
    async def failing() -> Denial | None:
        raise ConnectionError("redis down")

    def hook(ctx: Context) -> PolicyResult:
        return failing()

    ctx = FakeContext()
    index, pending = run((hook,), ctx)
    assert isinstance(pending, Awaitable)
    at, result = await settle((hook,), ctx, index, pending)
    assert at == 1 and isinstance(result, ClientError) and result.status == 500

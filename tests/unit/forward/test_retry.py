"""The retry rules (forward/retry.py): data in, a verdict out."""

from __future__ import annotations

import pytest

from portway.contract import RequestHead
from portway.errors import (
    ConnectError,
    ConnectTimeout,
    NoHealthyTarget,
    PoolTimeout,
    ReadTimeout,
    UpstreamDisconnected,
    UpstreamError,
    UpstreamProtocolError,
)
from portway.forward.retry import may_replay, may_try_another


def head(method: str = "GET", body: bool = False) -> RequestHead:
    h = RequestHead(method, b"/", "1.1", [], True, False, "127.0.0.1", 1, 0.0)
    h.content_length = 5 if body else None
    return h


@pytest.mark.parametrize(
    "error", [ConnectError("x"), ConnectTimeout("x"), PoolTimeout("x"), NoHealthyTarget("x")]
)
def test_nothing_sent_goes_to_another_target_while_one_is_left(error: UpstreamError) -> None:
    assert may_try_another(error, untried=1)
    assert not may_try_another(error, untried=0)


@pytest.mark.parametrize("error", [UpstreamDisconnected("x"), ReadTimeout("x"), UpstreamProtocolError("x")])
def test_a_sent_request_never_moves_as_if_nothing_was_sent(error: UpstreamError) -> None:
    assert not may_try_another(error, untried=3)


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])
def test_idempotent_bodiless_unanswered_requests_are_replayed(method: str) -> None:
    assert may_replay(UpstreamDisconnected("x"), head(method), replays=0, targets=2)


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_other_methods_are_not_replayed(method: str) -> None:
    assert not may_replay(UpstreamDisconnected("x"), head(method), replays=0, targets=2)


def test_a_request_with_a_body_is_not_replayed() -> None:
    assert not may_replay(UpstreamDisconnected("x"), head("PUT", body=True), replays=0, targets=2)


@pytest.mark.parametrize("error", [ReadTimeout("x"), UpstreamProtocolError("x")])
def test_timeouts_and_broken_answers_are_not_replayed(error: UpstreamError) -> None:
    assert not may_replay(error, head(), replays=0, targets=2)


def test_replays_are_bounded_by_the_number_of_targets_with_a_floor_of_two() -> None:
    error = UpstreamDisconnected("x")
    assert [may_replay(error, head(), n, targets=1) for n in range(3)] == [True, True, False]
    assert [may_replay(error, head(), n, targets=4) for n in range(5)] == [True, True, True, True, False]

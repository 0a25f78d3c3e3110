"""The redelivery policy: backoff, its cap and jitter, the last attempt, and its EVENTS_URL parameters."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from shop.common.events.backend import backend_from_url
from shop.common.events.nats_jetstream import NatsJetStream
from shop.common.events.redelivery import Redelivery
from shop.common.events.sqlite_log import SqliteLog


def test_backoff_doubles_from_one_second_up_to_the_cap() -> None:
    policy = Redelivery()
    assert [policy.delay(attempt, draw=0.0) for attempt in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_jitter_takes_at_most_its_share_off() -> None:
    policy = Redelivery(backoff=2.0, jitter=0.25)
    assert policy.delay(1, draw=0.0) == 2.0
    assert policy.delay(1, draw=0.5) == 1.75
    assert policy.delay(1, draw=0.999) == pytest.approx(1.5, abs=0.001)


def test_the_failure_of_the_last_attempt_is_the_one_that_dead_letters() -> None:
    policy = Redelivery(max_attempts=3)
    assert [policy.exhausted(attempt) for attempt in (1, 2, 3, 4)] == [False, False, True, True]


def test_parameters_come_from_the_url_query() -> None:
    query = parse_qs("namespace=shop&max_attempts=8&backoff=0.5&backoff_max=60&jitter=0")
    assert Redelivery.from_query(query) == Redelivery(max_attempts=8, backoff=0.5, backoff_max=60, jitter=0)
    assert Redelivery.from_query({}) == Redelivery()


def test_a_backoff_above_the_default_cap_raises_the_cap_with_it() -> None:
    assert Redelivery.from_query(parse_qs("backoff=45")).backoff_max == 45


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("max_attempts=five", "EVENTS_URL: max_attempts='five' is not a int"),
        ("max_attempts=0", "EVENTS_URL: max_attempts must be at least 1, got 0"),
        ("backoff=2&backoff_max=1", "EVENTS_URL: backoff must be positive and at most backoff_max"),
        ("backoff=-1", "EVENTS_URL: backoff must be positive"),
        ("jitter=1", "EVENTS_URL: jitter must be in [0, 1), got 1.0"),
    ],
)
def test_a_bad_parameter_is_named(query: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        Redelivery.from_query(parse_qs(query))


def test_both_backends_read_the_policy_from_their_url() -> None:
    log = backend_from_url("sqlite:////tmp/x/events.db?max_attempts=2&backoff=0.1")
    assert isinstance(log, SqliteLog)
    assert str(log.path) == "/tmp/x/events.db"
    assert log.redelivery == Redelivery(max_attempts=2, backoff=0.1)
    broker = backend_from_url("nats://127.0.0.1:4222?namespace=eu&max_attempts=9")
    assert isinstance(broker, NatsJetStream)
    assert (broker.server, broker.stream, broker.dead_stream) == ("nats://127.0.0.1:4222", "EU", "EU_DEAD")
    assert broker.redelivery.max_attempts == 9


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://broker:4222", "unsupported scheme 'http'"),
        ("sqlite:///", "names no file"),
        ("nats://?namespace=shop", "names no server"),
    ],
)
def test_a_url_without_what_it_needs_is_refused(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        backend_from_url(url)

"""Dead letters on both backends: a handler that keeps failing, the replay command, other events flowing.

Redelivery is made fast through the URL (3 attempts, 50 ms doubling to 200 ms), as an operator would
tune it; the defaults are checked in tests/unit/shop/test_shop_redelivery.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import ClassVar

import pytest

from shop.common.events import Envelope, Event, EventBackend, backend_from_url
from shop.common.events.dead_letters import DeadLetter
from shop.events.cli import main
from shop.testing import eventually, nats_namespace

FAST = "max_attempts=3&backoff=0.05&backoff_max=0.2"
COMMAND_TIMEOUT = 60.0


class Parcel(Event):
    topic: ClassVar[str] = "test.parcel"
    n: int


def parcels(*numbers: int) -> list[Envelope]:
    return [Envelope.wrap(Parcel(n=n), source="test") for n in numbers]


@pytest.fixture(params=["sqlite", pytest.param("nats", marks=pytest.mark.nats)])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'events.db'}?{FAST}"
    else:
        async with nats_namespace(FAST) as nats_url:
            yield nats_url


@pytest.fixture
async def backend(url: str) -> AsyncIterator[EventBackend]:
    backend = backend_from_url(url)
    await backend.connect()
    yield backend
    await backend.close()


@contextlib.asynccontextmanager
async def consuming(
    backend: EventBackend, group: str, handler: Callable[[Envelope], Awaitable[None]]
) -> AsyncIterator[None]:
    task = asyncio.create_task(backend.consume(Parcel.topic, group, handler))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


class Recorder:
    """A group's handler: records every delivery; fails for the numbers in ``poison``."""

    def __init__(self, poison: set[int] | None = None) -> None:
        self.poison = poison or set()
        self.deliveries: list[tuple[int, str]] = []  # (n, "ok" | "failed"), in delivery order

    async def __call__(self, envelope: Envelope) -> None:
        n = envelope.open(Parcel).n
        if n in self.poison:
            self.deliveries.append((n, "failed"))
            raise RuntimeError(f"parcel {n} is poison")
        self.deliveries.append((n, "ok"))

    def handled(self) -> list[int]:
        return [n for n, outcome in self.deliveries if outcome == "ok"]

    def attempts(self, n: int) -> int:
        return sum(1 for m, _ in self.deliveries if m == n)


async def letters_of(backend: EventBackend, group: str, count: int) -> list[DeadLetter]:
    async def probe() -> list[DeadLetter] | None:
        letters = await backend.dead_letters(group)
        return letters if len(letters) >= count else None

    return await eventually(probe, what=f"{count} dead letters of {group}")


async def handled(recorder: Recorder, *numbers: int) -> None:
    async def probe() -> bool:
        return all(n in recorder.handled() for n in numbers)

    await eventually(probe, what=f"parcels {numbers} handled")


async def command(url: str, *args: str) -> tuple[int, str, str]:
    """``python -m shop.events ...`` as an operator runs it, with EVENTS_URL in its environment."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shop.events",
        *args,
        env={**os.environ, "EVENTS_URL": url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_a_handler_failing_every_attempt_dead_letters_the_event_and_the_rest_flow(
    backend: EventBackend,
) -> None:
    picky, easy = Recorder(poison={3}), Recorder()
    batch = parcels(1, 2, 3, 4, 5)
    await backend.send(batch)
    async with consuming(backend, "picky", picky), consuming(backend, "easy", easy):
        [letter] = await letters_of(backend, "picky", 1)
        await backend.send(parcels(6))  # flows past the letter, and shows no fourth attempt came first
        await handled(picky, 6)
        await handled(easy, 1, 2, 3, 4, 5, 6)
    assert picky.attempts(3) == 3
    # 4 and 5 did not wait for 3's retries: they were handled before its last attempt
    last_try = max(i for i, (n, _) in enumerate(picky.deliveries) if n == 3)
    assert picky.deliveries.index((5, "ok")) < last_try
    assert picky.handled() == [1, 2, 4, 5, 6]
    assert (letter.group, letter.topic, letter.event_id, letter.attempts) == (
        "picky",
        Parcel.topic,
        batch[2].id,
        3,
    )
    assert letter.error == "RuntimeError: parcel 3 is poison"
    assert Envelope.from_json(letter.envelope) == batch[2]
    assert await backend.dead_letters("easy") == []
    assert [d.id for d in await backend.dead_letters()] == [letter.id]


async def test_the_replay_command_redelivers_to_that_group_only(url: str, backend: EventBackend) -> None:
    picky, easy = Recorder(poison={3}), Recorder()
    await backend.send(parcels(1, 2, 3))
    async with consuming(backend, "picky", picky), consuming(backend, "easy", easy):
        [letter] = await letters_of(backend, "picky", 1)
        await handled(easy, 1, 2, 3)

        status, out, err = await command(url, "list-dead", "--group", "picky")
        assert (status, err) == (0, "")
        assert out.split("\t")[:5] == [str(letter.id), "picky", Parcel.topic, letter.event_id, "3"]

        picky.poison.clear()  # the bug is fixed and deployed
        status, out, err = await command(url, "replay", str(letter.id))
        assert (status, err) == (0, "")
        assert out == f"replayed {letter.id}: {Parcel.topic} {letter.event_id} for group picky\n"
        await handled(picky, 3)

        await backend.send(parcels(4))  # once easy has 4, it has seen (and skipped) anything before it
        await handled(easy, 4)
        await handled(picky, 4)
    assert picky.handled() == [1, 2, 3, 4]
    assert easy.handled() == [1, 2, 3, 4]
    assert await backend.dead_letters() == []


async def test_a_replayed_event_that_fails_again_gets_all_its_attempts_again(backend: EventBackend) -> None:
    picky = Recorder(poison={1})
    await backend.send(parcels(1))
    async with consuming(backend, "picky", picky):
        [first] = await letters_of(backend, "picky", 1)
        await backend.replay(first.id)
        [second] = await letters_of(backend, "picky", 1)
    assert second.id != first.id
    assert (second.event_id, second.attempts) == (first.event_id, 3)
    assert picky.attempts(1) == 6


async def test_replay_all_and_purge_by_group(url: str, backend: EventBackend) -> None:
    first, second = Recorder(poison={1, 2}), Recorder(poison={1})
    await backend.send(parcels(1, 2))
    async with consuming(backend, "first", first), consuming(backend, "second", second):
        await letters_of(backend, "first", 2)
        [kept] = await letters_of(backend, "second", 1)

        status, out, _ = await command(url, "purge-dead", "--all", "--group", "first")
        assert status == 0
        assert out.count("purged ") == 2
        assert [d.id for d in await backend.dead_letters()] == [kept.id]

        second.poison.clear()
        status, out, _ = await command(url, "replay", "--all")
        assert status == 0
        await handled(second, 1)
    assert await backend.dead_letters() == []
    assert first.handled() == []
    assert first.attempts(1) == 3  # the replay for "second" was not delivered to "first"


async def test_list_dead_as_json_carries_the_event(url: str, backend: EventBackend) -> None:
    await backend.send(parcels(9))
    async with consuming(backend, "picky", Recorder(poison={9})):
        [letter] = await letters_of(backend, "picky", 1)
    status, out, _ = await command(url, "list-dead", "--json")
    assert status == 0
    assert [json.loads(line) for line in out.splitlines()] == [letter.to_dict()]


async def test_an_unknown_letter_is_one_line_and_status_1(url: str, backend: EventBackend) -> None:
    status, out, err = await command(url, "replay", "424242")
    assert (status, out, err) == (1, "", "python -m shop.events: no dead letter 424242\n")
    status, out, err = await command(url, "purge-dead", "424242")
    assert (status, err) == (1, "python -m shop.events: no dead letter 424242\n")


def test_a_bad_url_is_one_line_and_status_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--url", "http://broker:4222", "list-dead"]) == 2
    assert capsys.readouterr().err == (
        "python -m shop.events: EVENTS_URL: unsupported scheme 'http' (use sqlite:/// or nats://)\n"
    )
    missing = tmp_path / "nowhere" / "events.db"
    assert main(["--url", f"sqlite:///{missing}", "list-dead"]) == 2
    assert capsys.readouterr().err == f"python -m shop.events: EVENTS_URL: no event log at {missing}\n"
    assert not missing.parent.exists()  # looking did not create it
    assert main(["--url", f"sqlite:///{missing}?max_attempts=none", "list-dead"]) == 2
    assert "max_attempts='none' is not a int" in capsys.readouterr().err


def test_an_unreachable_broker_is_one_line_and_status_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--url", "nats://127.0.0.1:1", "list-dead"]) == 1  # nothing listens on port 1
    err = capsys.readouterr().err
    assert err.startswith("python -m shop.events: cannot reach the broker at nats://127.0.0.1:1: ")
    assert err.count("\n") == 1

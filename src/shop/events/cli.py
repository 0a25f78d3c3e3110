"""``python -m shop.events``: list, replay and purge the dead letters of the broker in ``EVENTS_URL``.

- ``list-dead [--group G] [--json]``: one line per letter, oldest first: id, group, topic, event id,
  attempts, when, last error (``--json``: one JSON object per line, the event included).
- ``replay ID | --all [--group G]``: deliver the event again to its group alone, attempts counted
  afresh, and drop the letter.
- ``purge-dead ID | --all [--group G]``: drop letters without delivering them.

``EVENTS_URL`` is read as the services read it (default: the embedded log in ``PORTWAY_DATA_DIR``);
``--url`` overrides it. Exit status: 0 done, 1 an unknown letter or an unreachable broker, 2 a bad
URL or bad arguments, each with one line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from shop.common.events import EventBackend, backend_from_url
from shop.common.events.dead_letters import DeadLetter, UnknownDeadLetter
from shop.common.events.sqlite_log import SqliteLog
from shop.common.settings import DEFAULT_DATA_DIR

CONNECT_TIMEOUT = 5.0
ERROR_COLUMN = 80  # characters of the error shown per line; --json has all of it
PROG = "python -m shop.events"


class CommandError(Exception):
    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def default_url() -> str:
    data_dir = Path(os.environ.get("PORTWAY_DATA_DIR") or DEFAULT_DATA_DIR).absolute()
    return os.environ.get("EVENTS_URL") or f"sqlite:///{data_dir / 'events.db'}"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description="Dead letters of the shop's event broker")
    parser.add_argument("--url", default=None, help="the broker (default: $EVENTS_URL, as the services)")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list-dead", help="list dead letters, oldest first")
    listing.add_argument("--group", help="only this consumer group's")
    listing.add_argument("--json", action="store_true", help="one JSON object per line, event included")
    for name, verb in (("replay", "deliver again to its group"), ("purge-dead", "drop without delivering")):
        command = commands.add_parser(name, help=f"{verb}: one letter by id, or --all")
        which = command.add_mutually_exclusive_group(required=True)
        which.add_argument("id", nargs="?", type=int, help="the letter's id, as list-dead shows it")
        which.add_argument("--all", action="store_true", help="every letter (of --group, if given)")
        command.add_argument("--group", help="only this consumer group's")
    return parser.parse_args(argv)


async def _connected(url: str) -> EventBackend:
    try:
        backend = backend_from_url(url)
    except ValueError as exc:
        raise CommandError(str(exc), status=2) from None
    if isinstance(backend, SqliteLog) and not backend.path.exists():
        raise CommandError(f"EVENTS_URL: no event log at {backend.path}", status=2)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            await backend.connect()
    except (TimeoutError, OSError) as exc:
        reason = f"no answer within {CONNECT_TIMEOUT:.0f} s" if isinstance(exc, TimeoutError) else str(exc)
        raise CommandError(f"cannot reach the broker at {url}: {reason}") from None
    return backend


def _line(letter: DeadLetter) -> str:
    error = letter.error if len(letter.error) <= ERROR_COLUMN else letter.error[: ERROR_COLUMN - 1] + "…"
    return "\t".join(
        (
            str(letter.id),
            letter.group,
            letter.topic,
            letter.event_id,
            str(letter.attempts),
            letter.dead_at_iso,
            error,
        )
    )


async def _chosen(backend: EventBackend, args: argparse.Namespace) -> list[int]:
    if args.all:
        return [letter.id for letter in await backend.dead_letters(args.group)]
    if args.group is not None and args.id not in {
        letter.id for letter in await backend.dead_letters(args.group)
    }:
        raise CommandError(f"no dead letter {args.id} in group {args.group!r}")
    return [args.id]


async def run(args: argparse.Namespace) -> None:
    backend = await _connected(args.url or default_url())
    try:
        if args.command == "list-dead":
            for letter in await backend.dead_letters(args.group):
                print(json.dumps(letter.to_dict()) if args.json else _line(letter))
            return
        act = backend.replay if args.command == "replay" else backend.purge
        done = "replayed" if args.command == "replay" else "purged"
        for dead_id in await _chosen(backend, args):
            try:
                letter = await act(dead_id)
            except UnknownDeadLetter as exc:
                raise CommandError(str(exc)) from None
            print(f"{done} {letter.id}: {letter.topic} {letter.event_id} for group {letter.group}")
    finally:
        await backend.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)  # the broker client's reconnect chatter is not for operators
    try:
        asyncio.run(run(args))
    except CommandError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return exc.status
    return 0

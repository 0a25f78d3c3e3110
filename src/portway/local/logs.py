"""Merged logs: every replica writes its own file in the run directory (so nothing is lost when the
view is busy, and the files outlive `portway up` for a post-mortem); this module tails them all and
hands out complete lines with the name of their source, each source with its own colour."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.text import Text

COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan", "bright_magenta")


@dataclass
class _Source:
    name: str
    path: Path
    colour: str
    offset: int
    partial: bytes = b""


class LogTail:
    def __init__(self) -> None:
        self.sources: list[_Source] = []

    def add(self, name: str, path: Path, from_start: bool = False) -> None:
        """Follow ``path``; only what is written from now on unless ``from_start``."""
        offset = 0 if from_start or not path.exists() else path.stat().st_size
        colour = COLOURS[len(self.sources) % len(COLOURS)]
        self.sources.append(_Source(name, path, colour, offset))

    def poll(self) -> list[tuple[str, str, str]]:
        """New complete lines since the last poll, as (source, colour, line)."""
        lines: list[tuple[str, str, str]] = []
        for source in self.sources:
            try:
                size = source.path.stat().st_size
                if size < source.offset:  # truncated or replaced: start over
                    source.offset, source.partial = 0, b""
                if size == source.offset:
                    continue
                with source.path.open("rb") as handle:
                    handle.seek(source.offset)
                    data = handle.read(size - source.offset)
            except OSError:
                continue
            source.offset += len(data)
            *complete, source.partial = (source.partial + data).split(b"\n")
            lines.extend((source.name, source.colour, line.decode(errors="replace")) for line in complete)
        return lines


def readable(line: str) -> str:
    """A JSON log line (the shop's services log JSON) as ``level message``; other lines as they are."""
    if not line.startswith("{"):
        return line
    try:
        record = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict) or "msg" not in record:
        return line
    return f"{record.get('level', '')} {record['msg']}".strip()


def prefixed(name: str, colour: str, line: str, width: int) -> Text:
    text = Text(f"{name:<{width}} | ", style=colour)
    text.append(readable(line))
    return text


def print_new(tail: LogTail, console: Console) -> None:
    width = max(len(source.name) for source in tail.sources)
    for name, colour, line in tail.poll():
        console.print(prefixed(name, colour, line, width), soft_wrap=True, highlight=False)


async def follow(tail: LogTail, console: Console, interval: float = 0.2) -> None:
    """Print every new line with its coloured prefix until cancelled (``--logs``)."""
    while True:
        print_new(tail, console)
        await asyncio.sleep(interval)

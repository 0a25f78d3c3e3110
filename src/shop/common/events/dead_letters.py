"""A dead letter: an event one consumer group's handler kept failing, set aside with why.

Each backend keeps them apart from the live events (a table in the embedded log, a stream of their own
on JetStream), so they are never lost and never hold back the events behind them. ``id`` is the
backend's number for the letter (a row id, a stream sequence): what ``python -m shop.events replay``
takes. Replaying puts the event back for that group alone, with a fresh count of attempts.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Self

ERROR_LIMIT = 2000  # characters of the last error kept; a traceback's end is in the service's log


class UnknownDeadLetter(LookupError):
    def __init__(self, dead_id: int) -> None:
        super().__init__(f"no dead letter {dead_id}")
        self.dead_id = dead_id


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    group: str
    topic: str
    event_id: str
    envelope: str  # the event exactly as it was delivered (JSON)
    attempts: int
    error: str
    dead_at: float  # Unix time

    @property
    def dead_at_iso(self) -> str:
        return datetime.fromtimestamp(self.dead_at, UTC).isoformat(timespec="seconds")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def body(self) -> bytes:
        """The stored form, without the id (the backend numbers it)."""
        fields = self.to_dict()
        del fields["id"]
        return json.dumps(fields).encode()

    @classmethod
    def from_body(cls, dead_id: int, body: bytes | str) -> Self:
        return cls(id=dead_id, **json.loads(body))


def error_text(exc: BaseException) -> str:
    """One line naming the exception, as much of its message as fits."""
    text = f"{type(exc).__name__}: {exc}".replace("\r", " ").replace("\n", " ")
    return text[:ERROR_LIMIT]

"""Event schemas and the envelope they travel in.

An event schema is a pydantic model with a ``topic`` and a ``version``. Consumers read tolerantly
(unknown fields are ignored), so adding an optional field is not a new version; removing or changing
a field is, and the producer then publishes the new version under the same topic while consumers
accept it via :meth:`Event.upcast`. The envelope carries the id consumers deduplicate on, and the
request id and trace context of the request that caused the event, so a saga can be followed in logs.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shop.common import context, tracing


class EventSchemaError(Exception):
    """An envelope no version of the consumer's schema can read; retrying cannot help."""


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    topic: ClassVar[str]
    version: ClassVar[int] = 1

    @classmethod
    def upcast(cls, version: int, data: dict[str, Any]) -> dict[str, Any]:
        """Turn the payload of an older ``version`` into the current shape; override when bumping."""
        raise EventSchemaError(f"{cls.topic} v{version} is not readable as v{cls.version}")


E = TypeVar("E", bound=Event)


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    topic: str
    version: int
    source: str
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    request_id: str | None = None
    traceparent: str | None = None
    data: dict[str, Any]

    @classmethod
    def wrap(cls, event: Event, *, source: str) -> Self:
        correlation = context.current()
        return cls(
            topic=event.topic,
            version=event.version,
            source=source,
            request_id=correlation.request_id if correlation else None,
            # the current span's when traced (a consumer's span is its child), else the correlation's
            traceparent=tracing.traceparent() or (correlation.traceparent if correlation else None),
            data=event.model_dump(mode="json"),
        )

    def open(self, schema: type[E]) -> E:
        if self.topic != schema.topic:
            raise EventSchemaError(f"expected {schema.topic}, got {self.topic}")
        data = self.data if self.version == schema.version else schema.upcast(self.version, self.data)
        try:
            return schema.model_validate(data)
        except ValidationError as exc:
            raise EventSchemaError(f"{self.topic} v{self.version}: {exc}") from exc

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, raw: str | bytes) -> Self:
        return cls.model_validate_json(raw)

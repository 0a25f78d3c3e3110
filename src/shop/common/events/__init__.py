"""Events between services: versioned schemas, a transactional outbox, idempotent subscriptions."""

from shop.common.events.backend import EventBackend, backend_from_url
from shop.common.events.bus import EventBus
from shop.common.events.envelope import Envelope, Event, EventSchemaError
from shop.common.events.outbox import publish

__all__ = ["Envelope", "Event", "EventBackend", "EventBus", "EventSchemaError", "backend_from_url", "publish"]

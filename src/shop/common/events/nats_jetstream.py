"""NATS JetStream: the production broker.

Rules:
- One stream per namespace (``EVENTS_URL=nats://host:4222?namespace=shop`` → stream ``SHOP`` on
  subjects ``shop.>``), file storage, events kept for the retention period (``max_age``); a topic
  ``orders.order_placed`` is subject ``shop.orders.order_placed``.
- Publishing sets ``Nats-Msg-Id`` to the event id, so JetStream drops a re-sent event within its
  duplicate window: the outbox relay may ship a row twice after a crash.
- Each (group, topic) is a durable pull consumer with explicit acks; replicas of a service fetch from
  the same consumer and so share its events. A failing handler's message is nak'ed with backoff and
  comes back; one whose process died comes back after ``ACK_WAIT`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Self
from urllib.parse import parse_qs, urlsplit, urlunsplit

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from shop.common.events.backend import RETENTION_SECONDS, Handler, retry_delay
from shop.common.events.envelope import Envelope

log = logging.getLogger(__name__)

ACK_WAIT = 10.0  # a message fetched by a process that died comes back after this
DUPLICATE_WINDOW = 600.0
FETCH_BATCH = 20
FETCH_WAIT = 1.0


class NatsJetStream:
    def __init__(self, server: str, namespace: str = "shop") -> None:
        self.server = server
        self.namespace = namespace
        self.stream = namespace.upper()
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None

    def __repr__(self) -> str:
        return f"NatsJetStream({self.server!r}, stream={self.stream!r})"

    @classmethod
    def from_url(cls, url: str) -> Self:
        parts = urlsplit(url)
        namespace = parse_qs(parts.query).get("namespace", ["shop"])[0]
        return cls(urlunsplit((parts.scheme, parts.netloc, "", "", "")), namespace)

    async def connect(self) -> None:
        self._nc = await nats.connect(
            servers=[self.server], name=f"shop-{self.namespace}", max_reconnect_attempts=-1, connect_timeout=5
        )
        self._js = self._nc.jetstream()
        try:
            await self._js.stream_info(self.stream)
        except NotFoundError:
            await self._js.add_stream(
                StreamConfig(
                    name=self.stream,
                    subjects=[f"{self.namespace}.>"],
                    storage=StorageType.FILE,
                    duplicate_window=DUPLICATE_WINDOW,
                    max_age=RETENTION_SECONDS,
                )
            )

    async def close(self) -> None:
        if self._nc is not None:
            await self._nc.close()
            self._nc = None
            self._js = None

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError(f"{self!r} is not connected")
        return self._js

    async def ping(self) -> None:
        if self._nc is None or not self._nc.is_connected:
            raise ConnectionError(f"{self!r} is not connected")
        await self._nc.flush(timeout=1)

    def _subject(self, topic: str) -> str:
        return f"{self.namespace}.{topic}"

    async def send(self, envelopes: Sequence[Envelope]) -> None:
        for envelope in envelopes:  # one at a time: each waits for the stream's ack, keeping the order
            await self.js.publish(
                self._subject(envelope.topic),
                envelope.to_json().encode(),
                stream=self.stream,
                headers={"Nats-Msg-Id": envelope.id},
            )

    async def prune(self, older_than: float) -> int:
        return 0  # the stream's max_age does it, on the server

    async def consume(self, topic: str, group: str, handler: Handler) -> None:
        durable = f"{group}-{topic}".replace(".", "_")
        subscription = await self.js.pull_subscribe(
            self._subject(topic),
            durable=durable,
            stream=self.stream,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT, ack_wait=ACK_WAIT, deliver_policy=DeliverPolicy.ALL
            ),
        )
        try:
            while True:
                try:
                    messages = await subscription.fetch(FETCH_BATCH, timeout=FETCH_WAIT)
                except (NatsTimeout, TimeoutError):  # nats-py raises either when nothing arrived
                    continue
                except NatsError:
                    log.exception("fetch failed", extra={"topic": topic, "group": group})
                    await asyncio.sleep(FETCH_WAIT)  # reconnecting: the client retries on its own
                    continue
                await self._handle_all(messages, topic, handler)
        finally:
            # Drop our interest at once, so the server stops handing this consumer's events to us.
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _handle_all(self, messages: list[Msg], topic: str, handler: Handler) -> None:
        for message in messages:
            envelope = Envelope.from_json(message.data)
            try:
                await handler(envelope)
            except Exception:
                attempt = message.metadata.num_delivered or 1
                log.exception(
                    "handler failed", extra={"event_id": envelope.id, "topic": topic, "attempt": attempt}
                )
                await message.nak(delay=retry_delay(attempt))
            else:
                await message.ack()

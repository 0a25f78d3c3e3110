"""NATS JetStream: the production broker.

Rules:
- One stream per namespace (``EVENTS_URL=nats://host:4222?namespace=shop`` → stream ``SHOP`` on
  subjects ``shop.>``), file storage, events kept for the retention period (``max_age``); a topic
  ``orders.order_placed`` is subject ``shop.orders.order_placed``.
- Publishing sets ``Nats-Msg-Id`` to the event id, so JetStream drops a re-sent event within its
  duplicate window: the outbox relay may ship a row twice after a crash.
- Each (group, topic) is a durable pull consumer with explicit acks; replicas of a service fetch from
  the same consumer and so share its events. One whose process died comes back after ``ACK_WAIT``.
- A failing handler's message is nak'ed with the :mod:`.redelivery` delay, so JetStream brings it
  back later while the consumer goes on with the messages behind it; the server's delivery count
  (``num_delivered``) is the attempt. The failure of the last attempt publishes a dead letter to the
  stream ``SHOP_DEAD`` (subjects ``shop_dead.<group>.<topic>``, kept until replayed or purged) and
  only then terminates the message, so it is never lost. A message delivered more often than the
  policy allows without an answer (its handlers' processes died) is set aside the same way, unrun.
- A replay publishes the event again on its topic with a ``Shop-Replay-Group`` header: that group's
  consumer handles it with a fresh count, the other groups' consumers acknowledge it unseen.
- A consumer stops when cancelled even if nats-py swallowed the cancellation (:mod:`.cancellation`);
  messages it fetched but did not finish are nak'ed so that another replica gets them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
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

from shop.common.events.backend import RETENTION_SECONDS, Handler
from shop.common.events.cancellation import cancel_requested, raise_if_cancelled
from shop.common.events.dead_letters import DeadLetter, UnknownDeadLetter, error_text
from shop.common.events.envelope import Envelope
from shop.common.events.redelivery import Redelivery

log = logging.getLogger(__name__)

ACK_WAIT = 10.0  # a message fetched by a process that died comes back after this
DUPLICATE_WINDOW = 600.0
FETCH_BATCH = 20
FETCH_WAIT = 1.0
LIST_BATCH = 256
REPLAY_GROUP = "Shop-Replay-Group"


def _token(name: str) -> str:
    """A group or topic as one subject token / consumer name part (no dots)."""
    return name.replace(".", "_")


class NatsJetStream:
    def __init__(self, server: str, namespace: str = "shop", redelivery: Redelivery | None = None) -> None:
        self.server = server
        self.namespace = namespace
        self.stream = namespace.upper()
        self.dead_stream = f"{self.stream}_DEAD"
        self.dead_subjects = f"{namespace}_dead"
        self.redelivery = redelivery or Redelivery()
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None

    def __repr__(self) -> str:
        return f"NatsJetStream({self.server!r}, stream={self.stream!r})"

    @classmethod
    def from_url(cls, url: str) -> Self:
        parts = urlsplit(url)
        if not parts.hostname:
            raise ValueError(f"EVENTS_URL: {url!r} names no server (use nats://host:4222)")
        query = parse_qs(parts.query)
        namespace = query.get("namespace", ["shop"])[0]
        return cls(
            urlunsplit((parts.scheme, parts.netloc, "", "", "")), namespace, Redelivery.from_query(query)
        )

    async def connect(self) -> None:
        self._nc = await nats.connect(
            servers=[self.server], name=f"shop-{self.namespace}", max_reconnect_attempts=-1, connect_timeout=5
        )
        self._js = self._nc.jetstream()
        await self._ensure_stream(
            StreamConfig(
                name=self.stream,
                subjects=[f"{self.namespace}.>"],
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW,
                max_age=RETENTION_SECONDS,
            )
        )
        await self._ensure_stream(  # no max_age: a dead letter waits for an operator
            StreamConfig(
                name=self.dead_stream,
                subjects=[f"{self.dead_subjects}.>"],
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW,
            )
        )

    async def _ensure_stream(self, config: StreamConfig) -> None:
        assert config.name is not None
        try:
            await self.js.stream_info(config.name)
        except NotFoundError:
            await self.js.add_stream(config)

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
                raise_if_cancelled()
                try:
                    messages = await subscription.fetch(FETCH_BATCH, timeout=FETCH_WAIT)
                except (NatsTimeout, TimeoutError):  # nats-py raises either when nothing arrived
                    continue
                except NatsError:
                    if cancel_requested():  # next_msg turns a cancellation into ConnectionClosedError
                        raise asyncio.CancelledError from None
                    log.exception("fetch failed", extra={"topic": topic, "group": group})
                    await asyncio.sleep(FETCH_WAIT)  # reconnecting: the client retries on its own
                    continue
                await self._handle_all(messages, topic, group, handler)
        finally:
            # Drop our interest at once, so the server stops handing this consumer's events to us.
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _handle_all(self, messages: list[Msg], topic: str, group: str, handler: Handler) -> None:
        for index, message in enumerate(messages):
            try:
                raise_if_cancelled()
                await self._handle(message, topic, group, handler)
            except asyncio.CancelledError:
                # Ours to finish no more: hand them back now rather than after ACK_WAIT.
                for unfinished in messages[index:]:
                    with contextlib.suppress(Exception):
                        await unfinished.nak()
                raise

    async def _handle(self, message: Msg, topic: str, group: str, handler: Handler) -> None:
        replay_for = (message.headers or {}).get(REPLAY_GROUP)
        if replay_for is not None and replay_for != group:
            await message.ack()  # another group's replay
            return
        attempt = message.metadata.num_delivered or 1
        if attempt > self.redelivery.max_attempts:
            error = f"delivered {attempt} times without an answer (the handling processes died)"
            await self._set_aside(message, topic, group, attempt - 1, error)
            return
        try:
            await handler(Envelope.from_json(message.data))
        except Exception as exc:
            log.warning(
                "handler failed", exc_info=True, extra={"topic": topic, "group": group, "attempt": attempt}
            )
            if self.redelivery.exhausted(attempt):
                await self._set_aside(message, topic, group, attempt, error_text(exc))
            else:
                await message.nak(delay=self.redelivery.delay(attempt, random.random()))  # noqa: S311
        else:
            await message.ack()

    async def _set_aside(self, message: Msg, topic: str, group: str, attempts: int, error: str) -> None:
        """Publish the dead letter, then terminate the message; if publishing fails it comes back."""
        raw = message.data.decode(errors="replace")
        try:
            event_id = Envelope.from_json(raw).id
        except ValueError:
            event_id = ""
        letter = DeadLetter(0, group, topic, event_id, raw, attempts, error, time.time())
        try:
            await self.js.publish(
                f"{self.dead_subjects}.{_token(group)}.{topic}",
                letter.body(),
                stream=self.dead_stream,
                # once per delivered message: a crash before term() must not set it aside twice
                headers={"Nats-Msg-Id": f"{group}:{message.metadata.sequence.stream}"},
            )
        except (NatsError, TimeoutError):
            log.exception("dead letter not stored; the event will come back", extra={"group": group})
            await message.nak(delay=self.redelivery.backoff_max)
            return
        log.error("dead letter: %s", error, extra={"event_id": event_id, "topic": topic, "group": group})
        await message.term()

    async def dead_letters(self, group: str | None = None) -> list[DeadLetter]:
        name = f"dead-letters-{uuid.uuid4().hex[:12]}"
        subjects = (
            f"{self.dead_subjects}.{_token(group)}.>" if group is not None else f"{self.dead_subjects}.>"
        )
        await self.js.add_consumer(  # an ephemeral reader: the server also drops it after 30 s idle
            self.dead_stream,
            ConsumerConfig(
                name=name,
                filter_subject=subjects,
                ack_policy=AckPolicy.NONE,
                deliver_policy=DeliverPolicy.ALL,
                inactive_threshold=30.0,
            ),
        )
        reader = await self.js.pull_subscribe_bind(consumer=name, stream=self.dead_stream)
        letters: list[DeadLetter] = []
        try:
            remaining = (await reader.consumer_info()).num_pending or 0
            while remaining > 0:
                for message in await reader.fetch(min(remaining, LIST_BATCH), timeout=5):
                    letters.append(DeadLetter.from_body(message.metadata.sequence.stream, message.data))
                    remaining = message.metadata.num_pending
        finally:
            with contextlib.suppress(Exception):
                await reader.unsubscribe()
            with contextlib.suppress(Exception):
                await self.js.delete_consumer(self.dead_stream, name)
        return letters

    async def replay(self, dead_id: int) -> DeadLetter:
        letter = await self._letter(dead_id)
        await self.js.publish(
            self._subject(letter.topic),
            letter.envelope.encode(),
            stream=self.stream,
            headers={
                "Nats-Msg-Id": f"replay:{letter.group}:{dead_id}:{letter.event_id}",
                REPLAY_GROUP: letter.group,
            },
        )
        await self.js.delete_msg(self.dead_stream, dead_id)  # after: a crash between replays it twice
        return letter

    async def purge(self, dead_id: int) -> DeadLetter:
        letter = await self._letter(dead_id)
        await self.js.delete_msg(self.dead_stream, dead_id)
        return letter

    async def _letter(self, dead_id: int) -> DeadLetter:
        try:
            stored = await self.js.get_msg(self.dead_stream, dead_id)
        except NotFoundError:
            raise UnknownDeadLetter(dead_id) from None
        assert stored.data is not None
        return DeadLetter.from_body(dead_id, stored.data)

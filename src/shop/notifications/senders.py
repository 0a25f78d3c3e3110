"""Where a notification goes: a log line (the default), or email over SMTP when configured.

``NOTIFICATIONS_SMTP_URL=smtp://user:password@host:587`` (``smtps://`` for implicit TLS; ``smtp://``
upgrades with STARTTLS when the server offers it) and ``NOTIFICATIONS_FROM`` switch email on.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import unquote, urlsplit

log = logging.getLogger("shop.notifications.sent")


class Sender(Protocol):
    channel: str

    async def send(self, to: str | None, subject: str, body: str) -> None: ...


class LogSender:
    channel = "log"

    async def send(self, to: str | None, subject: str, body: str) -> None:
        log.info("notification: %s", subject, extra={"to": to, "subject": subject, "body": body})


class SmtpSender:
    channel = "email"

    def __init__(self, url: str, sender: str) -> None:
        parts = urlsplit(url)
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender

    async def send(self, to: str | None, subject: str, body: str) -> None:
        if to is None:
            raise LookupError("no email address known for this user yet")  # retried: it may arrive
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message.set_content(body)
        await asyncio.to_thread(self._deliver, message)

    def _deliver(self, message: EmailMessage) -> None:
        smtp_class = smtplib.SMTP_SSL if self.implicit_tls else smtplib.SMTP
        with smtp_class(self.host, self.port, timeout=10) as smtp:
            if not self.implicit_tls and smtp.has_extn("starttls"):
                smtp.starttls()
            if self.user and self.password:
                smtp.login(self.user, self.password)
            smtp.send_message(message)


def sender_from(smtp_url: str, sender: str) -> Sender:
    return SmtpSender(smtp_url, sender) if smtp_url else LogSender()

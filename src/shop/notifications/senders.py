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
    async def send(self, to: str | None, subject: str, body: str) -> str:
        """Send, and say over which channel it went (``log``, ``email``)."""


class LogSender:
    async def send(self, to: str | None, subject: str, body: str) -> str:
        log.info("notification: %s", subject, extra={"to": to, "subject": subject, "body": body})
        return "log"


class SmtpSender:
    """Email, with the log line as well; without a known address (the user's registration has not
    reached this service) only the log line, rather than holding up every later event of the topic."""

    def __init__(self, url: str, sender: str) -> None:
        parts = urlsplit(url)
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender

    async def send(self, to: str | None, subject: str, body: str) -> str:
        channel = await LogSender().send(to, subject, body)
        if to is None:
            log.warning("no email address known: logged only", extra={"subject": subject})
            return channel
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message.set_content(body)
        await asyncio.to_thread(self._deliver, message)
        return "email"

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

"""The notifications service's email sender against a small SMTP server on a loopback socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email import message_from_bytes

import pytest

from shop.notifications.senders import LogSender, SmtpSender, sender_from


@pytest.fixture
async def smtp_server() -> AsyncIterator[tuple[int, list[bytes]]]:
    """Just enough SMTP (RFC 5321) to accept mail: EHLO, MAIL, RCPT, DATA, QUIT."""
    received: list[bytes] = []

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 test ESMTP\r\n")
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"DATA":
                writer.write(b"354 go on\r\n")
                received.append(await reader.readuntil(b"\r\n.\r\n"))
                writer.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1], received


async def test_a_notification_goes_out_as_an_email(smtp_server: tuple[int, list[bytes]]) -> None:
    port, received = smtp_server
    sender = sender_from(f"smtp://127.0.0.1:{port}", "shop@example.com")
    assert isinstance(sender, SmtpSender)
    assert (
        await sender.send("carol@example.com", "Order 1234 confirmed", "Your order is confirmed.") == "email"
    )
    [raw] = received
    message = message_from_bytes(raw.removesuffix(b"\r\n.\r\n"))
    assert (message["From"], message["To"], message["Subject"]) == (
        "shop@example.com",
        "carol@example.com",
        "Order 1234 confirmed",
    )
    assert "Your order is confirmed." in message.get_payload()


async def test_without_an_address_it_is_only_logged(smtp_server: tuple[int, list[bytes]]) -> None:
    port, received = smtp_server
    assert await SmtpSender(f"smtp://127.0.0.1:{port}", "shop@example.com").send(None, "s", "b") == "log"
    assert received == []


def test_without_a_url_notifications_are_only_logged() -> None:
    assert isinstance(sender_from("", "shop@example.com"), LogSender)

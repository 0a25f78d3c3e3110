"""``ForwardingRules.client_ip``: the socket peer, unless it is a trusted proxy; then the right-most
``X-Forwarded-For`` entry that is not a trusted proxy. Everything left of it was written by the
client, so rotating it must not change the answer (per-IP limits and IP rules key on this)."""

from __future__ import annotations

import pytest

from portway.contract import RequestHead
from portway.forward.rules import ForwardingRules


def gateway(trusted: list[str]) -> ForwardingRules:
    return ForwardingRules(trusted, [])


def head(peer: str, *xff: str) -> RequestHead:
    headers = [(b"x-forwarded-for", value.encode()) for value in xff]
    return RequestHead("GET", b"/", "1.1", headers, True, False, peer, 50000, 0.0)


@pytest.fixture(scope="module")
def proxies() -> ForwardingRules:
    return gateway(["127.0.0.0/8", "10.0.0.0/8", "::1/128"])


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        ("127.0.0.1", (), "127.0.0.1"),
        ("127.0.0.1", ("203.0.113.9",), "203.0.113.9"),
        ("127.0.0.1", ("6.6.6.6, 203.0.113.9",), "203.0.113.9"),
        ("127.0.0.1", ("1.1.1.1, 203.0.113.9, 10.0.0.2",), "203.0.113.9"),  # through two proxies
        ("127.0.0.1", ("1.1.1.1", "203.0.113.9"), "203.0.113.9"),  # two header lines, in order
        ("127.0.0.1", ("203.0.113.9,, ,10.0.0.1",), "203.0.113.9"),  # empty entries skipped
        ("127.0.0.1", ("10.0.0.5",), "10.0.0.5"),  # only proxies: the left-most
        ("::1", ("2001:db8::7",), "2001:db8::7"),
        ("198.51.100.4", ("203.0.113.9",), "198.51.100.4"),  # an untrusted peer's XFF proves nothing
        ("198.51.100.4", (), "198.51.100.4"),
    ],
)
def test_client_ip(proxies: ForwardingRules, peer: str, xff: tuple[str, ...], expected: str) -> None:
    assert proxies.client_ip(head(peer, *xff)) == expected


def test_rotating_the_client_written_part_changes_nothing(proxies: ForwardingRules) -> None:
    seen = {proxies.client_ip(head("127.0.0.1", f"192.0.2.{i}, 10.9.{i}.1, 203.0.113.9")) for i in range(100)}
    # 10.9.x.1 entries are trusted-looking but sit left of the first untrusted one from the right
    assert seen == {"203.0.113.9"}
    untrusted = {proxies.client_ip(head("198.51.100.4", f"192.0.2.{i}")) for i in range(100)}
    assert untrusted == {"198.51.100.4"}


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    plain = gateway([])
    assert plain.client_ip(head("127.0.0.1", "203.0.113.9")) == "127.0.0.1"
    assert not plain.is_trusted("127.0.0.1")

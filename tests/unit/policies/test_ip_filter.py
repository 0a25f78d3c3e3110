from __future__ import annotations

import pytest
from policy_support import FakeContext

from portway.config.security import IpRules
from portway.errors import ClientError
from portway.policies.base import Denial
from portway.policies.ip_filter import IpFilter


def admitted(rules: IpRules, ip: str) -> bool:
    result = IpFilter(rules).request(FakeContext(client_ip=ip))
    assert result is None or (isinstance(result, ClientError) and result.status == 403)
    return result is None


@pytest.mark.parametrize(
    ("ip", "expected"),
    [("10.1.2.3", True), ("10.9.0.1", False), ("192.168.0.1", False), ("2001:db8::1", True),
     ("2001:db8:bad::1", False), ("::ffff:10.1.2.3", True), ("::ffff:10.9.0.1", False), ("fe80::1", False)],
)  # fmt: skip
def test_allow_list_with_deny_exceptions(ip: str, expected: bool) -> None:
    rules = IpRules(allow=["10.0.0.0/8", "2001:db8::/32"], deny=["10.9.0.0/16", "2001:db8:bad::/48"])
    assert admitted(rules, ip) is expected


def test_deny_only_admits_everyone_else() -> None:
    rules = IpRules(deny=["203.0.113.0/24", "2001:db8::/32"])
    assert not admitted(rules, "203.0.113.7")
    assert not admitted(rules, "2001:db8::7")
    assert admitted(rules, "198.51.100.1")
    assert admitted(rules, "::1")


def test_deny_wins_over_an_identical_allow() -> None:
    assert not admitted(IpRules(allow=["10.0.0.0/8"], deny=["10.0.0.0/8"]), "10.0.0.1")


def test_single_addresses_and_host_bits_in_a_cidr() -> None:
    rules = IpRules(allow=["10.0.0.5", "192.168.1.77/24"])
    assert admitted(rules, "10.0.0.5")
    assert not admitted(rules, "10.0.0.6")
    assert admitted(rules, "192.168.1.1")


def test_an_unparsable_address_is_refused() -> None:
    assert not admitted(IpRules(deny=["203.0.113.0/24"]), "not-an-ip")
    assert not admitted(IpRules(deny=["203.0.113.0/24"]), "")


def test_decisions_are_cached_and_the_cache_is_bounded() -> None:
    ipf = IpFilter(IpRules(deny=["10.0.0.0/8"]), cache_size=4)
    for i in range(10):
        ipf.request(FakeContext(client_ip=f"10.0.0.{i}"))
        assert len(ipf._cache) <= 4
    assert isinstance(ipf.request(FakeContext(client_ip="10.0.0.9")), Denial)  # a cached refusal


def test_no_rules_is_a_construction_error() -> None:
    with pytest.raises(ValueError, match="allow"):
        IpFilter(IpRules())

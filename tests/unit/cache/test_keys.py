"""Cache keys: the primary key of a request, same-origin references, Vary's secondary keys."""

from __future__ import annotations

from portway.cache import keys
from portway.contract import RequestHead


def head(target: bytes, host: bytes = b"Shop.Example") -> RequestHead:
    h = RequestHead("GET", target, "1.1", [], True, False, "127.0.0.1", 1, 0.0)
    h.host = host
    return h


def test_primary_key_is_host_path_and_query() -> None:
    assert keys.primary(head(b"/p?a=1"), b"a=1") == "shop.example/p?a=1"
    assert keys.primary(head(b"/p?api_key=s"), b"") == "shop.example/p"  # a consumed query part is gone


def test_only_same_origin_references_name_a_key() -> None:
    assert keys.uri_key(b"shop.example", b"/other") == "shop.example/other"
    assert keys.uri_key(b"shop.example", b"http://SHOP.example/x?y") == "shop.example/x?y"
    assert keys.uri_key(b"shop.example", b"https://evil.example/x") is None
    assert keys.uri_key(b"shop.example", b"//evil.example/x") is None


def test_vary_secondary_keys() -> None:
    assert keys.vary_names([b"Accept-Language, accept-encoding", b"Accept-Language"]) == [
        b"accept-language",
        b"accept-encoding",
    ]
    assert keys.vary_names([b"x, *"]) is None
    stored = keys.secondary([b"accept-language"], [(b"accept-language", b" fr ")])
    assert keys.matches(stored, [(b"accept-language", b"fr")])
    assert not keys.matches(stored, [(b"accept-language", b"en")])
    assert not keys.matches(stored, [])  # absent is a value of its own
    assert keys.matches(keys.secondary([b"x-a"], []), [])

"""Header rules shared by both directions of the proxy (RFC 9110 §7.6.1)."""

from __future__ import annotations

# Never forwarded: they describe one connection, not the message. Those named in the message's own
# `Connection` header are removed too (see connection_tokens).
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"proxy-connection",
        b"keep-alive",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-authorization",
    }
)

# Request headers the gateway sets itself; a client's copies are dropped, never merged.
GATEWAY_SET = frozenset(
    {
        b"host",
        b"content-length",
        b"expect",
        b"x-request-id",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"forwarded",
        b"proxy",  # httpoxy: CGI-style back ends turn it into HTTP_PROXY
    }
)


def connection_tokens(headers: list[tuple[bytes, bytes]], lower: bool) -> frozenset[bytes]:
    """Header names listed in ``Connection`` (``close`` and ``keep-alive`` are options, not names)."""
    tokens: set[bytes] = set()
    for name, value in headers:
        if (name if lower else name.lower()) == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b","))
    tokens.discard(b"")
    return frozenset(tokens)


# Forwarding headers: the gateway writes them from what it saw; a client's copies say nothing true.
FORWARDING_PREFIXES = (b"x-forwarded-",)
FORWARDING = frozenset(
    {b"x-real-ip", b"forwarded", b"x-client-ip", b"true-client-ip", b"x-cluster-client-ip"}
)

# Headers some back ends and frameworks read as the "real" path or method, so a client could reach a
# path or use a method the gateway never routed: never forwarded.
PATH_OVERRIDES = frozenset(
    {
        b"x-original-url",
        b"x-original-uri",
        b"x-original-path",
        b"x-original-method",
        b"x-original-host",
        b"x-rewrite-url",
        b"x-override-url",
        b"x-http-method-override",
        b"x-http-method",
        b"x-method-override",
        b"x-http-destinationurl",
        b"x-host",
    }
)
PATH_OVERRIDE_PREFIXES = (b"x-envoy-",)

# Identity: set only from a verified credential (policies/identity_headers.py), whatever the suffix.
IDENTITY_PREFIXES = (b"x-user-", b"x-consumer", b"x-portway-")

# Cleartext HTTP/2 upgrades are never passed on (h2c smuggling), nor their settings.
H2C = frozenset({b"http2-settings"})

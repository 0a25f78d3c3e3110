"""The pure head builders of portway.forward.heads: a client's request head in, the exact bytes sent
upstream out; an upstream's response head in, the exact bytes the client gets (and the framing)."""

from __future__ import annotations

import pytest

from portway.contract import RequestHead
from portway.forward.heads import request_head, response_head
from portway.forward.rules import ForwardingRules

RULES = ForwardingRules(trusted_proxies=["10.0.0.0/8"], identity_headers=["X-Tenant"])
TAIL = (
    b"x-forwarded-for: 198.51.100.9\r\nx-forwarded-proto: http\r\n"
    b"x-forwarded-host: gw\r\nx-request-id: rid-1\r\n"
)


def make_head(
    headers: list[tuple[bytes, bytes]] | None = None,
    method: str = "GET",
    version: str = "1.1",
    client_ip: str = "198.51.100.9",
    host: bytes | None = b"gw",
    content_length: int | None = None,
    chunked: bool = False,
    upgrade: bool = False,
    keep_alive: bool = True,
) -> RequestHead:
    """A head as the server leaves it after its framing checks (names lower-case)."""
    all_headers = ([(b"host", host)] if host is not None else []) + (headers or [])
    head = RequestHead(
        method, b"/client/path", version, all_headers, keep_alive, upgrade, client_ip, 4000, 0.0
    )
    head.host = host
    head.connection = next((value for name, value in all_headers if name == b"connection"), None)
    head.content_length = content_length
    head.body_chunked = chunked
    head.request_id = "rid-1"
    return head


def build(head: RequestHead, target: bytes = b"/", host: bytes = b"svc:8080", extra=()) -> bytes:  # type: ignore[no-untyped-def]
    return request_head(head, target, host, RULES, list(extra))


# -- request heads ---------------------------------------------------------------------------------
def test_a_plain_get() -> None:
    assert build(make_head([(b"accept", b"*/*")]), b"/v1/items?page=2") == (
        b"GET /v1/items?page=2 HTTP/1.1\r\nhost: svc:8080\r\naccept: */*\r\n" + TAIL + b"\r\n"
    )


def test_the_request_line_is_always_http_1_1_with_the_method_kept() -> None:
    head = make_head(method="DELETE", version="1.0", keep_alive=False)
    assert build(head, b"/x").startswith(b"DELETE /x HTTP/1.1\r\nhost: svc:8080\r\n")


def test_host_is_the_one_given_and_the_client_host_is_dropped() -> None:
    # preserve_host is the caller's choice: it passes the client's Host as ``host``
    head = make_head(host=b"api.example.com")
    data = build(head, host=b"api.example.com")
    assert data.startswith(b"GET / HTTP/1.1\r\nhost: api.example.com\r\nx-forwarded-for")
    assert data.count(b"host: ") == 2  # host and x-forwarded-host, never the client's copy
    assert b"x-forwarded-host: api.example.com\r\n" in data


def test_http_1_0_without_host_has_no_forwarded_host() -> None:
    head = make_head(version="1.0", host=None, keep_alive=False)
    assert build(head) == (
        b"GET / HTTP/1.1\r\nhost: svc:8080\r\n"
        b"x-forwarded-for: 198.51.100.9\r\nx-forwarded-proto: http\r\nx-request-id: rid-1\r\n\r\n"
    )


def test_hop_by_hop_and_connection_named_headers_are_dropped() -> None:
    head = make_head(
        [
            (b"connection", b"keep-alive, X-Secret-Hop"),
            (b"keep-alive", b"timeout=5"),
            (b"te", b"trailers"),
            (b"trailer", b"x-t"),
            (b"proxy-connection", b"keep-alive"),
            (b"proxy-authorization", b"Basic eA=="),
            (b"x-secret-hop", b"1"),
            (b"x-kept", b"yes"),
        ]
    )
    assert build(head) == b"GET / HTTP/1.1\r\nhost: svc:8080\r\nx-kept: yes\r\n" + TAIL + b"\r\n"


OWNED = [
    b"x-forwarded-port", b"x-forwarded-prefix", b"x-forwarded-uri", b"x-forwarded-host",
    b"x-forwarded-server",
    b"x-real-ip", b"forwarded", b"x-client-ip", b"true-client-ip", b"x-cluster-client-ip",
    b"x-user-id", b"x-user-roles", b"x_user_id", b"x-user_email", b"x-consumer", b"x-consumer-username",
    b"x-consumerid", b"x-portway-anything", b"x-tenant", b"x_tenant",
    b"x-original-url", b"x-original-uri", b"x-original-path", b"x-original-method", b"x-original-host",
    b"x-rewrite-url", b"x-override-url", b"x-http-method-override", b"x-http-method", b"x-method-override",
    b"x-http-destinationurl", b"x-host", b"x-envoy-original-path", b"x-envoy-internal",
    b"http2-settings", b"upgrade", b"expect", b"content-length", b"transfer-encoding", b"x-request-id",
    b"proxy",
]  # fmt: skip


@pytest.mark.parametrize("name", OWNED)
def test_every_owned_header_family_is_dropped(name: bytes) -> None:
    head = make_head([(name, b"forged"), (b"x-kept", b"yes")])
    assert build(head) == b"GET / HTTP/1.1\r\nhost: svc:8080\r\nx-kept: yes\r\n" + TAIL + b"\r\n"


@pytest.mark.parametrize(
    "name", [b"x-users", b"x-username", b"x-forwarded", b"x-envoy", b"user-agent", b"x-portway"]
)
def test_lookalikes_outside_the_families_pass(name: bytes) -> None:
    assert RULES.drops(name) is False


def test_x_forwarded_for_from_an_untrusted_peer_is_replaced() -> None:
    head = make_head([(b"x-forwarded-for", b"1.2.3.4"), (b"x-forwarded-proto", b"https")])
    assert build(head) == b"GET / HTTP/1.1\r\nhost: svc:8080\r\n" + TAIL + b"\r\n"


def test_x_forwarded_for_from_a_trusted_peer_is_appended_to() -> None:
    head = make_head(
        [
            (b"x-forwarded-for", b"1.2.3.4"),
            (b"x-forwarded-for", b"5.6.7.8"),
            (b"x-forwarded-proto", b"https"),
        ],
        client_ip="10.1.2.3",
    )
    assert build(head) == (
        b"GET / HTTP/1.1\r\nhost: svc:8080\r\n"
        b"x-forwarded-for: 1.2.3.4, 5.6.7.8, 10.1.2.3\r\nx-forwarded-proto: https\r\n"
        b"x-forwarded-host: gw\r\nx-request-id: rid-1\r\n\r\n"
    )


@pytest.mark.parametrize("proto", [b"ftp", b"https, http", b"HTTPS", b"https\x00"])
def test_a_trusted_proxys_forwarded_proto_must_be_http_or_https(proto: bytes) -> None:
    head = make_head([(b"x-forwarded-for", b"1.2.3.4"), (b"x-forwarded-proto", proto)], client_ip="10.1.2.3")
    assert b"\r\nx-forwarded-proto: http\r\n" in build(head)


def test_a_trusted_proxy_without_x_forwarded_for_is_the_client() -> None:
    head = make_head([(b"x-forwarded-proto", b"https")], client_ip="10.1.2.3")
    assert b"x-forwarded-for: 10.1.2.3\r\nx-forwarded-proto: http\r\n" in build(head)


def test_policy_headers_follow_the_gateways_own() -> None:
    head = make_head([(b"x-user-id", b"forged")])
    extra = [(b"x-user-id", b"alice"), (b"x-user-roles", b"admin")]
    assert build(head, extra=extra) == (
        b"GET / HTTP/1.1\r\nhost: svc:8080\r\n" + TAIL + b"x-user-id: alice\r\nx-user-roles: admin\r\n\r\n"
    )


def test_an_upgrade_is_passed_on_with_connection_upgrade() -> None:
    headers = [(b"connection", b"Upgrade"), (b"upgrade", b"websocket"), (b"sec-websocket-key", b"k==")]
    head = make_head(headers, upgrade=True)
    assert build(head, b"/ws") == (
        b"GET /ws HTTP/1.1\r\nhost: svc:8080\r\nsec-websocket-key: k==\r\n"
        + TAIL
        + b"connection: upgrade\r\nupgrade: websocket\r\n\r\n"
    )


def test_an_h2c_upgrade_served_as_http_is_not_passed_on() -> None:
    head = make_head(
        [(b"connection", b"Upgrade, HTTP2-Settings"), (b"upgrade", b"h2c"), (b"http2-settings", b"AAMA")]
    )  # head.upgrade is False: the server serves it as HTTP/1.1
    assert build(head) == b"GET / HTTP/1.1\r\nhost: svc:8080\r\n" + TAIL + b"\r\n"


def test_a_chunked_body_is_sent_chunked() -> None:
    head = make_head([(b"transfer-encoding", b"chunked")], method="POST", chunked=True)
    assert build(head) == (
        b"POST / HTTP/1.1\r\nhost: svc:8080\r\n" + TAIL + b"transfer-encoding: chunked\r\n\r\n"
    )


def test_a_sized_body_keeps_its_length() -> None:
    head = make_head([(b"content-length", b"0012")], method="PUT", content_length=12)
    assert build(head) == b"PUT / HTTP/1.1\r\nhost: svc:8080\r\n" + TAIL + b"content-length: 12\r\n\r\n"


def test_a_zero_length_body_is_declared() -> None:
    head = make_head([(b"content-length", b"0")], method="POST", content_length=0)
    assert build(head).endswith(b"x-request-id: rid-1\r\ncontent-length: 0\r\n\r\n")


def test_a_body_sent_decoded_goes_chunked_without_its_coding() -> None:
    """A request filter (compression's decompress) decodes the body: its length and coding are gone."""
    headers = [(b"content-length", b"40"), (b"content-encoding", b"gzip"), (b"content-type", b"text/csv")]
    head = make_head(headers, method="POST", content_length=40)
    sent = request_head(head, b"/", b"svc:8080", RULES, [], decoded=True)
    assert sent == (
        b"POST / HTTP/1.1\r\nhost: svc:8080\r\ncontent-type: text/csv\r\n"
        + TAIL
        + b"transfer-encoding: chunked\r\n\r\n"
    )
    assert b"content-encoding: gzip" in build(head)  # not decoded: sent as it came


# -- response heads --------------------------------------------------------------------------------
def respond(  # type: ignore[no-untyped-def]
    headers, status=200, reason=b"OK", head=None, extra=(), keep_alive=True
) -> tuple[bytes, bool, bool]:
    return response_head(status, reason, list(headers), head or make_head(), list(extra), keep_alive)


def test_a_sized_response_is_kept_as_is() -> None:
    assert respond([(b"Content-Type", b"text/plain"), (b"Content-Length", b"5")]) == (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nx-request-id: rid-1\r\n\r\n",
        False,
        True,
    )


def test_the_upstreams_request_id_is_replaced_and_hop_by_hop_dropped() -> None:
    headers = [
        (b"X-Request-Id", b"upstream-id"),
        (b"Connection", b"keep-alive"),
        (b"Keep-Alive", b"timeout=5"),
        (b"Proxy-Authenticate", b"Basic"),
        (b"Trailer", b"X-T"),
        (b"Content-Length", b"0"),
    ]
    assert respond(headers)[0] == b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nx-request-id: rid-1\r\n\r\n"


def test_headers_the_upstreams_connection_names_are_dropped() -> None:
    headers = [(b"Connection", b"X-Internal, close"), (b"X-Internal", b"secret"), (b"Content-Length", b"0"),
               (b"x-internal", b"again")]  # fmt: skip
    assert respond(headers)[0] == b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nx-request-id: rid-1\r\n\r\n"


def test_policy_headers_are_added_after_the_request_id() -> None:
    data, _, _ = respond([(b"Content-Length", b"0")], extra=[(b"access-control-allow-origin", b"*")])
    assert data == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nx-request-id: rid-1\r\n"
        b"access-control-allow-origin: *\r\n\r\n"
    )


def test_a_missing_reason_gets_the_standard_one() -> None:
    assert respond([(b"Content-Length", b"0")], status=404, reason=b"")[0].startswith(
        b"HTTP/1.1 404 Not Found\r\n"
    )


def test_a_chunked_response_is_rechunked_for_an_http_1_1_client() -> None:
    assert respond([(b"Transfer-Encoding", b"chunked")]) == (
        b"HTTP/1.1 200 OK\r\nx-request-id: rid-1\r\ntransfer-encoding: chunked\r\n\r\n",
        True,
        True,
    )


def test_a_close_delimited_response_is_rechunked_for_an_http_1_1_client() -> None:
    assert respond([(b"Content-Type", b"text/plain")]) == (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nx-request-id: rid-1\r\n"
        b"transfer-encoding: chunked\r\n\r\n",
        True,
        True,
    )


def test_an_unsized_response_is_close_delimited_for_an_http_1_0_client() -> None:
    head = make_head(version="1.0", host=None)
    assert respond([(b"Transfer-Encoding", b"chunked")], head=head) == (
        b"HTTP/1.1 200 OK\r\nx-request-id: rid-1\r\nconnection: close\r\n\r\n",
        False,
        False,
    )


def test_a_sized_response_to_an_http_1_0_client_keeps_the_connection_if_asked() -> None:
    head = make_head(version="1.0", host=None)
    assert respond([(b"Content-Length", b"2")], head=head) == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nx-request-id: rid-1\r\n\r\n",
        False,
        True,
    )


def test_a_connection_that_will_not_be_kept_says_close() -> None:
    assert respond([(b"Content-Length", b"2")], keep_alive=False) == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nx-request-id: rid-1\r\nconnection: close\r\n\r\n",
        False,
        False,
    )


def test_a_head_response_keeps_its_framing_headers_and_no_body() -> None:
    head = make_head(method="HEAD")
    assert respond([(b"Content-Length", b"5000")], head=head) == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nx-request-id: rid-1\r\n\r\n",
        False,
        True,
    )
    assert respond([(b"Transfer-Encoding", b"chunked")], head=head) == (
        b"HTTP/1.1 200 OK\r\nx-request-id: rid-1\r\ntransfer-encoding: chunked\r\n\r\n",
        False,
        True,
    )
    assert respond([], head=head) == (b"HTTP/1.1 200 OK\r\nx-request-id: rid-1\r\n\r\n", False, True)


@pytest.mark.parametrize(("status", "reason"), [(204, b"No Content"), (304, b"Not Modified")])
def test_no_body_statuses_are_never_rechunked(status: int, reason: bytes) -> None:
    assert respond([(b"ETag", b'"v1"')], status=status, reason=reason) == (
        b'HTTP/1.1 %d %b\r\nETag: "v1"\r\nx-request-id: rid-1\r\n\r\n' % (status, reason),
        False,
        True,
    )


def test_101_passes_the_upgrade_on() -> None:
    headers = [(b"Upgrade", b"websocket"), (b"Connection", b"Upgrade"), (b"Sec-WebSocket-Accept", b"a=")]
    assert respond(headers, status=101, reason=b"Switching Protocols", keep_alive=False) == (
        b"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: a=\r\nx-request-id: rid-1\r\n"
        b"connection: upgrade\r\nupgrade: websocket\r\n\r\n",
        False,
        True,
    )


# -- ForwardingRules -------------------------------------------------------------------------------
SECRETS = ForwardingRules([], [], secret_params=["api_key", "token"])


@pytest.mark.parametrize(
    ("query", "cleaned"),
    [
        (b"a=1&b=2", b"a=1&b=2"),
        (b"api_key=s3cret", b""),
        (b"a=1&api_key=s3cret&b=2", b"a=1&b=2"),
        (b"token=x&token=y&a=1", b"a=1"),
        (b"api%5Fkey=s3cret&a=1", b"a=1"),  # an encoded name is the same parameter
        (b"%61pi_key=s3cret&a=1", b"a=1"),
        (b"api+key=1&a=%20", b"api+key=1&a=%20"),  # "api key" is another name
        (b"api_key", b""),  # without a value
        (b"api_keys=1&xapi_key=2", b"api_keys=1&xapi_key=2"),
        (b"a=api_key", b"a=api_key"),  # a value, not a name
    ],
)
def test_clean_query_removes_credential_parameters(query: bytes, cleaned: bytes) -> None:
    assert SECRETS.clean_query(query) == cleaned


def test_clean_query_without_secret_params_is_the_identity() -> None:
    assert RULES.clean_query(b"api_key=1&%61=2") == b"api_key=1&%61=2"


@pytest.mark.parametrize(
    ("name", "dropped"),
    [
        (b"x-forwarded-for", True), (b"x_forwarded_for", True), (b"x-user-anything", True),
        (b"x_user_id", True), (b"x-consumer-custom-id", True), (b"x-portway-route", True),
        (b"x-tenant", True), (b"x_tenant", True), (b"http2-settings", True), (b"x-envoy-upstream", True),
        (b"connection", True), (b"proxy", True),
        (b"authorization", False), (b"cookie", False), (b"x-tenants", False), (b"accept", False),
    ],
)  # fmt: skip
def test_drops_verdicts(name: bytes, dropped: bool) -> None:
    assert RULES.drops(name) is dropped
    assert RULES.drops(name) is dropped  # and the cached verdict is the same


def test_trusted_peers_come_from_the_cidrs() -> None:
    assert RULES.is_trusted("10.200.0.1")
    assert not RULES.is_trusted("11.0.0.1")
    assert not RULES.is_trusted("unix")
    assert not ForwardingRules([], []).is_trusted("10.0.0.1")


def test_a_204_never_carries_transfer_encoding() -> None:
    """RFC 9112 §6.1: a server MUST NOT send Transfer-Encoding in a 204, whatever the upstream did."""
    data, chunk_out, _ = respond([(b"Transfer-Encoding", b"chunked")], status=204, reason=b"No Content")
    assert (data, chunk_out) == (b"HTTP/1.1 204 No Content\r\nx-request-id: rid-1\r\n\r\n", False)


RELAYED = [
    (b"x-forwarded-host", b"shop.example"),
    (b"x-forwarded-port", b"443"),
    (b"x-forwarded-prefix", b"/store"),
]


def test_a_trusted_proxys_host_port_and_prefix_are_passed_on() -> None:
    head = make_head([(b"x-forwarded-for", b"1.2.3.4"), *RELAYED], client_ip="10.1.2.3")
    assert build(head) == (
        b"GET / HTTP/1.1\r\nhost: svc:8080\r\n"
        b"x-forwarded-for: 1.2.3.4, 10.1.2.3\r\nx-forwarded-proto: http\r\n"
        b"x-forwarded-host: shop.example\r\nx-forwarded-port: 443\r\nx-forwarded-prefix: /store\r\n"
        b"x-request-id: rid-1\r\n\r\n"
    )


def test_anyone_elses_host_port_and_prefix_are_dropped() -> None:
    head = make_head([(b"x-forwarded-for", b"1.2.3.4"), *RELAYED])
    assert build(head) == b"GET / HTTP/1.1\r\nhost: svc:8080\r\n" + TAIL + b"\r\n"

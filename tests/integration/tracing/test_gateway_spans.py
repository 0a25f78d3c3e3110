"""The gateway's spans, received by a real OTLP/HTTP receiver over loopback, and the trace context
the upstream gets: new, continued, refused when malformed or untrusted, sampled by parent and ratio;
retries as sibling client spans; a denial as an event; a dead collector costs only dropped spans."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from portway.testing import UpstreamRequest, UpstreamResponse, run_gateway, upstream_server

from .receiver import Receiver, Span, otlp_receiver

PARENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"


def config(
    upstream: str, endpoint: str, tracing: dict[str, Any] | None = None, **route: Any
) -> dict[str, Any]:
    return {
        "tracing": {"endpoint": endpoint, "flush_interval": "20ms", "timeout": "500ms"} | (tracing or {}),
        "upstreams": {"svc": {"targets": [upstream]}},
        "routes": [{"path": "/api/items/{id}", "upstream": "svc"} | route],
    }


async def spans(receiver: Receiver, count: int) -> list[Span]:
    return await asyncio.to_thread(receiver.wait_for, count)


def parse(traceparent: str) -> tuple[str, str, str, str]:
    version, trace, span, flags = traceparent.split("-")
    return version, trace, span, flags


async def get(port: int, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        return await client.get(path, headers=headers or {})


async def test_a_new_trace_has_a_server_span_and_a_client_span_whose_id_the_upstream_gets() -> None:
    with otlp_receiver() as receiver:
        async with upstream_server() as up, run_gateway(config(up.address, receiver.endpoint)) as gw:
            port, up_port = gw.port, up.port
            response = await get(port, "/api/items/7?q=1", {"user-agent": "probe/1"})
            assert response.status_code == 200
            server, client = sorted(await spans(receiver, 2), key=lambda s: s.kind != "server")
    (sent,) = up.requests[0].header_all("traceparent")
    version, trace_id, span_id, flags = parse(sent)
    assert (version, flags) == ("00", "01")
    assert server.kind == "server" and client.kind == "client"
    assert server.trace_id == client.trace_id == trace_id
    assert server.parent_id == "" and client.parent_id == server.span_id
    assert client.span_id == span_id != server.span_id
    assert server.name == "GET /api/items/{id}" and client.name == "GET"
    assert server.service == client.service == "portway"
    assert (
        server.attributes.items()
        >= {
            "http.request.method": "GET",
            "url.path": "/api/items/7",
            "url.scheme": "http",
            "http.route": "/api/items/{id}",
            "http.response.status_code": 200,
            "network.peer.address": "127.0.0.1",
            "server.address": "127.0.0.1",
            "server.port": port,
            "user_agent.original": "probe/1",
            "portway.request_id": response.headers["x-request-id"],
        }.items()
    )
    assert (
        client.attributes.items()
        >= {
            "http.request.method": "GET",
            "server.address": "127.0.0.1",
            "server.port": up_port,
            "url.full": f"http://127.0.0.1:{up_port}/api/items/7",
            "http.response.status_code": 200,
        }.items()
    )
    assert not server.error and not client.error
    assert server.start_ns <= client.start_ns <= client.end_ns <= server.end_ns
    assert receiver.content_types == {"application/x-protobuf"}


async def test_a_valid_incoming_context_is_continued_with_its_tracestate() -> None:
    incoming = {"traceparent": f"00-{PARENT_TRACE}-{PARENT_SPAN}-01", "tracestate": "vendor=abc,other=1"}
    with otlp_receiver() as receiver:
        async with upstream_server() as up, run_gateway(config(up.address, receiver.endpoint)) as gw:
            assert (await get(gw.port, "/api/items/1", incoming)).status_code == 200
            found = await spans(receiver, 2)
    server = next(s for s in found if s.kind == "server")
    assert server.trace_id == PARENT_TRACE and server.parent_id == PARENT_SPAN
    request = up.requests[0]
    (sent,) = request.header_all("traceparent")
    _, trace_id, span_id, flags = parse(sent)
    assert trace_id == PARENT_TRACE and span_id not in (PARENT_SPAN, server.span_id) and flags == "01"
    assert request.header_all("tracestate") == ["vendor=abc,other=1"]


async def test_malformed_traceparents_start_a_new_trace_and_are_never_forwarded() -> None:
    malformed = [
        "garbage",
        f"00-{PARENT_TRACE.upper()}-{PARENT_SPAN}-01",  # upper-case hex
        f"00-{'0' * 32}-{PARENT_SPAN}-01",  # all-zero trace id
        f"00-{PARENT_TRACE}-{'0' * 16}-01",  # all-zero parent id
        f"ff-{PARENT_TRACE}-{PARENT_SPAN}-01",  # the forbidden version
        f"00-{PARENT_TRACE}-{PARENT_SPAN}-01-extra",  # version 00 has four fields
        f"00-{PARENT_TRACE}-{PARENT_SPAN}-0x",
        "00-" + "é" * 10,
    ]
    with otlp_receiver() as receiver:
        async with upstream_server() as up, run_gateway(config(up.address, receiver.endpoint)) as gw:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}") as client:
                for value in malformed:
                    response = await client.get(
                        "/api/items/1",
                        headers=[("traceparent", value.encode()), ("tracestate", b"a=b")],
                    )
                    assert response.status_code == 200, value
            found = await spans(receiver, 2 * len(malformed))
    servers = [s for s in found if s.kind == "server"]
    assert len(servers) == len(malformed)
    assert all(s.parent_id == "" and s.trace_id != PARENT_TRACE for s in servers)
    assert len({s.trace_id for s in servers}) == len(malformed)
    for request in up.requests:
        (sent,) = request.header_all("traceparent")
        assert parse(sent)[1] != PARENT_TRACE
        assert request.header_all("tracestate") == []  # no valid parent: its state is not passed on


async def test_a_later_version_is_read_as_version_00() -> None:
    with otlp_receiver() as receiver:
        async with upstream_server() as up, run_gateway(config(up.address, receiver.endpoint)) as gw:
            headers = {"traceparent": f"cc-{PARENT_TRACE}-{PARENT_SPAN}-01-what-the-future-says"}
            assert (await get(gw.port, "/api/items/1", headers)).status_code == 200
            found = await spans(receiver, 2)
    assert {s.trace_id for s in found} == {PARENT_TRACE}
    assert parse(up.requests[0].header_all("traceparent")[0])[0] == "00"


async def test_two_traceparent_headers_start_a_new_trace() -> None:
    with otlp_receiver() as receiver:
        async with upstream_server() as up, run_gateway(config(up.address, receiver.endpoint)) as gw:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}") as client:
                tp = f"00-{PARENT_TRACE}-{PARENT_SPAN}-01".encode()
                response = await client.get(
                    "/api/items/1", headers=[("traceparent", tp), ("traceparent", tp)]
                )
            assert response.status_code == 200
            found = await spans(receiver, 2)
    assert {s.trace_id for s in found} != {PARENT_TRACE}
    assert len(up.requests[0].header_all("traceparent")) == 1


async def test_an_untrusted_peers_context_starts_a_new_trace_linked_to_it() -> None:
    incoming = {"traceparent": f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"}
    tracing = {"trust_incoming": "trusted_proxies"}
    with otlp_receiver() as receiver:
        async with upstream_server() as up, run_gateway(config(up.address, receiver.endpoint, tracing)) as gw:
            assert (await get(gw.port, "/api/items/1", incoming)).status_code == 200
            found = await spans(receiver, 2)
    server = next(s for s in found if s.kind == "server")
    assert server.trace_id != PARENT_TRACE and server.parent_id == ""
    assert server.links == [(PARENT_TRACE, PARENT_SPAN)]
    assert parse(up.requests[0].header_all("traceparent")[0])[1] == server.trace_id


async def test_a_trusted_proxys_context_is_continued() -> None:
    incoming = {"traceparent": f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"}
    with otlp_receiver() as receiver:
        cfg = config("", receiver.endpoint, {"trust_incoming": "trusted_proxies"})
        cfg["trusted_proxies"] = ["127.0.0.0/8"]
        async with upstream_server() as up:
            cfg["upstreams"]["svc"]["targets"] = [up.address]
            async with run_gateway(cfg) as gw:
                assert (await get(gw.port, "/api/items/1", incoming)).status_code == 200
                found = await spans(receiver, 2)
    assert {s.trace_id for s in found} == {PARENT_TRACE}


async def test_retries_are_sibling_client_spans() -> None:
    answers = iter([503, 200])

    async def flaky(request: UpstreamRequest) -> UpstreamResponse:
        return UpstreamResponse(next(answers), body=b"x")

    retries = {"attempts": 2, "on": [503], "backoff": {"base": "1ms", "max": "2ms"}}
    with otlp_receiver() as receiver:
        async with upstream_server(flaky) as up:
            cfg = config(up.address, receiver.endpoint)
            cfg["upstreams"]["svc"]["retries"] = retries
            async with run_gateway(cfg) as gw:
                assert (await get(gw.port, "/api/items/1")).status_code == 200
                found = await spans(receiver, 3)
    server = next(s for s in found if s.kind == "server")
    first, second = sorted((s for s in found if s.kind == "client"), key=lambda s: s.start_ns)
    assert first.parent_id == second.parent_id == server.span_id
    assert first.attributes["http.response.status_code"] == 503 and first.error
    assert first.attributes["error.type"] == "503"
    assert second.attributes["http.response.status_code"] == 200 and not second.error
    assert "http.request.resend_count" not in first.attributes
    assert second.attributes["http.request.resend_count"] == 1
    assert first.end_ns <= second.start_ns
    sent = [parse(r.header_all("traceparent")[0])[2] for r in up.requests]
    assert sent == [first.span_id, second.span_id]
    assert server.attributes["http.response.status_code"] == 200 and not server.error


async def test_an_upstream_that_is_down_makes_an_error_server_span() -> None:
    with otlp_receiver() as receiver:
        async with upstream_server() as up:
            address = up.address
        async with run_gateway(config(address, receiver.endpoint)) as gw:
            assert (await get(gw.port, "/api/items/1")).status_code == 502
            (server,) = await spans(receiver, 1)
    assert server.error and server.attributes["http.response.status_code"] == 502
    assert server.attributes["error.type"] == "ConnectError"


async def test_a_policy_denial_is_an_event_on_the_server_span() -> None:
    with otlp_receiver() as receiver:
        async with upstream_server() as up:
            cfg = config(up.address, receiver.endpoint, ip={"deny": ["127.0.0.1/32"]})
            async with run_gateway(cfg) as gw:
                assert (await get(gw.port, "/api/items/1")).status_code == 403
                (server,) = await spans(receiver, 1)
    assert up.requests == []
    assert server.attributes["http.response.status_code"] == 403 and not server.error
    ((name, attributes),) = server.events
    assert name == "portway.policy.denied" and attributes["http.response.status_code"] == 403


async def test_sampling_is_parent_based_with_a_ratio_for_new_traces() -> None:
    sampled = {"traceparent": f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"}
    unsampled = {"traceparent": f"00-{'1' * 32}-{PARENT_SPAN}-00"}
    with otlp_receiver() as receiver:
        async with upstream_server() as up:
            for ratio, headers, recorded, flags in [
                (0.0, {}, 0, "00"),  # new trace, ratio 0: nothing recorded, `-00` forwarded
                (0.0, sampled, 2, "01"),  # the parent sampled it: recorded whatever the ratio
                (1.0, unsampled, 0, "00"),  # the parent did not: nothing, whatever the ratio
                (1.0, {}, 2, "01"),
            ]:
                before = len(receiver.spans)
                cfg = config(up.address, receiver.endpoint, {"sample_ratio": ratio})
                async with run_gateway(cfg) as gw:
                    assert (await get(gw.port, "/api/items/1", headers)).status_code == 200
                # the drain joined the export thread: whatever was recorded has been received
                assert len(receiver.spans) - before == recorded, (ratio, headers)
                assert parse(up.requests[-1].header_all("traceparent")[0])[3] == flags


async def test_a_ratio_keeps_about_that_share_of_new_traces() -> None:
    with otlp_receiver() as receiver:
        async with (
            upstream_server() as up,
            run_gateway(config(up.address, receiver.endpoint, {"sample_ratio": 0.25})) as gw,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}") as client,
        ):
            for _ in range(400):
                assert (await client.get("/api/items/1")).status_code == 200
        kept = {s.trace_id for s in receiver.spans}
        flags = [parse(r.header_all("traceparent")[0]) for r in up.requests]
    assert {trace for _, trace, _, f in flags if f == "01"} == kept
    assert 50 <= len(kept) <= 150  # 100 expected; a binomial(400, 0.25) is outside this < 1e-6


def dropped(exposition: bytes) -> dict[str, float]:
    for family in text_string_to_metric_families(exposition.decode()):
        if family.name == "portway_trace_spans_dropped":
            return {s.labels["reason"]: s.value for s in family.samples if s.name.endswith("_total")}
    return {}


async def test_a_collector_that_is_down_costs_dropped_spans_and_a_counter_never_an_error() -> None:
    with otlp_receiver() as receiver:
        endpoint = receiver.endpoint
    # the receiver is closed: its port refuses connections
    async with upstream_server() as up, run_gateway(config(up.address, endpoint)) as gw:
        before = dropped(gw.exposition()).get("export_failed", 0.0)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}") as client:
            for _ in range(20):
                assert (await client.get("/api/items/1")).status_code == 200
        await gw.drain()  # joins the export thread: its last (failed) export is counted
        assert dropped(gw.exposition()).get("export_failed", 0.0) - before == 40
    assert len(up.requests) == 20


async def test_a_collector_answering_503_drops_spans_and_counts_them() -> None:
    with otlp_receiver(status=503) as receiver:
        async with upstream_server() as up, run_gateway(config(up.address, receiver.endpoint)) as gw:
            before = dropped(gw.exposition()).get("export_failed", 0.0)
            assert (await get(gw.port, "/api/items/1")).status_code == 200
            await gw.drain()
            assert dropped(gw.exposition()).get("export_failed", 0.0) - before == 2
        assert receiver.requests >= 1


async def test_a_full_queue_drops_spans_and_counts_them() -> None:
    with otlp_receiver() as receiver:
        tracing = {"queue_size": 1, "flush_interval": "1h", "batch_size": 100}
        async with upstream_server() as up, run_gateway(config(up.address, receiver.endpoint, tracing)) as gw:
            before = dropped(gw.exposition()).get("queue_full", 0.0)
            assert (await get(gw.port, "/api/items/1")).status_code == 200
            assert dropped(gw.exposition()).get("queue_full", 0.0) - before == 1  # 2 spans, room for 1
        assert len(receiver.spans) == 1  # the one queued went out at shutdown


async def test_export_headers_reach_the_collector() -> None:
    with otlp_receiver() as receiver:
        tracing = {"headers": {"x-api-key": "s3cret"}, "service_name": "edge"}
        async with upstream_server() as up, run_gateway(config(up.address, receiver.endpoint, tracing)) as gw:
            assert (await get(gw.port, "/api/items/1")).status_code == 200
            found = await spans(receiver, 2)
    assert all(s.headers.get("x-api-key") == "s3cret" and s.service == "edge" for s in found)


async def test_the_access_log_line_carries_the_trace_id(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    with otlp_receiver() as receiver:
        async with upstream_server() as up:
            cfg = config(up.address, receiver.endpoint) | {
                "access_log": {"path": str(log), "flush_interval": "10ms"}
            }
            async with run_gateway(cfg) as gw:
                assert (await get(gw.port, "/api/items/1")).status_code == 200
                found = await spans(receiver, 2)
    (line,) = log.read_text().splitlines()
    assert json.loads(line)["trace_id"] == found[0].trace_id


async def test_without_tracing_the_access_log_has_no_trace_id_and_traceparent_passes(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    incoming = {"traceparent": f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"}
    async with upstream_server() as up:
        cfg = {
            "access_log": {"path": str(log), "flush_interval": "10ms"},
            "upstreams": {"svc": {"targets": [up.address]}},
            "routes": [{"path": "/", "upstream": "svc"}],
        }
        async with run_gateway(cfg) as gw:
            assert (await get(gw.port, "/x", incoming)).status_code == 200
    (line,) = log.read_text().splitlines()
    assert "trace_id" not in json.loads(line)
    assert up.requests[0].header_all("traceparent") == [incoming["traceparent"]]

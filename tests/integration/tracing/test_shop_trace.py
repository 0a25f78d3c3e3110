"""The acceptance test of tracing: one order placed through `portway up`'s gateway yields ONE trace
whose spans cover the gateway, orders, catalog and notifications, linked across the events, received
over OTLP/HTTP by a real receiver. `portway up` and its services find the receiver through
OTEL_EXPORTER_OTLP_ENDPOINT, as a deployment would find its collector."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .receiver import Receiver, Span, otlp_receiver

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
SHOP_CONFIG = ROOT / "examples" / "shop" / "portway.yaml"


@pytest.fixture
def traced_shop() -> Iterator[tuple[str, Receiver]]:
    """`portway up` on the example shop, its collector our receiver; yields the gateway's address."""
    with otlp_receiver() as receiver:
        data = Path(tempfile.mkdtemp(prefix="pwtr-"))  # short: unix socket paths live inside
        env = os.environ | {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # the services' batch interval (ms)
            # this checkout's code, in the gateway and in every service it starts (cwd is elsewhere)
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "portway", "up", str(SHOP_CONFIG), "--data-dir", str(data),
             "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=data, env=env,
            start_new_session=True,
        )  # fmt: skip
        lines: list[str] = []
        assert process.stdout is not None
        reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 90
            base = ""
            while not base or not any(line.startswith("Try it:") for line in lines):
                assert process.poll() is None, "".join(lines)
                assert time.monotonic() < deadline, "".join(lines)
                for line in list(lines):
                    if found := re.search(r"gateway on (http://\S+), admin on", line):
                        base = found.group(1)
                time.sleep(0.05)
            yield base, receiver
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            reader.join(5)
            process.stdout.close()
            shutil.rmtree(data, ignore_errors=True)


def place_order(base: str) -> tuple[str, str]:
    """Register, log in, order the first product; returns (order id, the order request's trace id)."""
    with httpx.Client(base_url=base, timeout=20) as client:
        account = {"email": "tracer@example.com", "password": "a long password", "name": "Tracer"}
        assert client.post("/api/auth/register", json=account).status_code in (200, 201)
        login = client.post("/api/auth/login", json={k: account[k] for k in ("email", "password")})
        token = login.json()["access_token"]
        product = client.get("/api/products").json()["items"][0]["id"]
        trace_id = "5ca1ab1e" + "0" * 23 + "1"
        response = client.post(
            "/api/orders",
            json={"items": [{"product_id": product, "quantity": 1}]},
            headers={"authorization": f"Bearer {token}", "traceparent": f"00-{trace_id}-00000000000000a1-01"},
        )
        assert response.status_code == 202, response.text  # accepted: the saga goes on in events
        order = response.json()["id"]
        deadline = time.monotonic() + 30
        while (
            client.get(f"/api/orders/{order}", headers={"authorization": f"Bearer {token}"}).json()["status"]
            == "PENDING"
        ):
            assert time.monotonic() < deadline, "order still PENDING"
            time.sleep(0.1)
    return order, trace_id


def covers_the_saga(trace_id: str) -> object:
    def done(spans: list[Span]) -> bool:
        mine = [s for s in spans if s.trace_id == trace_id]
        consumed = {(s.service, s.name) for s in mine if s.kind in ("consumer", "server")}
        return {
            ("gateway", "POST /api/orders/"),
            ("catalog", "orders.order_placed process"),
            ("orders", "catalog.stock_reserved process"),
            ("notifications", "orders.order_confirmed process"),
        } <= consumed

    return done


def test_one_order_is_one_trace_from_the_gateway_through_the_events(
    traced_shop: tuple[str, Receiver],
) -> None:
    base, receiver = traced_shop
    _order, trace_id = place_order(base)
    spans = [s for s in receiver.wait_until(covers_the_saga(trace_id), within=30) if s.trace_id == trace_id]
    by_id = {s.span_id: s for s in spans}
    services = {s.service for s in spans}
    assert {"gateway", "orders", "catalog", "notifications"} <= services, services

    gateway_server = next(s for s in spans if s.service == "gateway" and s.kind == "server")
    assert gateway_server.parent_id == "00000000000000a1"  # the client's context, continued
    assert gateway_server.attributes["http.route"] == "/api/orders/"
    gateway_client = next(s for s in spans if s.service == "gateway" and s.kind == "client")
    orders_server = next(s for s in spans if s.service == "orders" and s.kind == "server")
    assert orders_server.parent_id == gateway_client.span_id
    assert gateway_client.parent_id == gateway_server.span_id

    def ancestors(span: Span) -> list[Span]:
        chain = []
        while span.parent_id in by_id:
            span = by_id[span.parent_id]
            chain.append(span)
        return chain

    # every consumer hop is a child of (and linked to) the span that published its event
    for span in spans:
        if span.kind == "consumer":
            assert span.links == [(trace_id, span.parent_id)], span
            assert gateway_server in ancestors(span), span
    notified = next(s for s in spans if s.service == "notifications" and s.kind == "consumer")
    hops = [s.service for s in ancestors(notified) if s.kind in ("consumer", "server")]
    assert hops == ["orders", "catalog", "orders", "gateway"], hops
    # the services' database work is part of the trace too
    assert any(s.service == "orders" and s.attributes.get("db.system.name", s.attributes.get("db.system"))
               for s in spans), sorted({(s.service, s.name) for s in spans})  # fmt: skip

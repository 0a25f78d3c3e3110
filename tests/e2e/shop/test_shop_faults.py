"""Crashes at the worst moments: the saga still ends, stock still adds up, nothing is sent twice."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter

import httpx
import pytest

from shop.common.faults import EXIT_CODE
from shop.testing import DirectShopApi, ShopStack, eventually
from shop.testing.journeys import login, new_customer, new_product, settled, stock_of
from shop.testing.stack import ADMIN_EMAIL, ADMIN_PASSWORD, running_shop

pytestmark = pytest.mark.slow


def sent_notifications(stack: ShopStack) -> Counter[str]:
    """How many times each message was sent, read from the notifications service's log lines."""
    sent: Counter[str] = Counter()
    for line in stack.processes["notifications"].logs().splitlines():
        if line.startswith("{") and (record := json.loads(line)).get("msg", "").startswith("notification:"):
            sent[record["body"]] += 1
    return sent


async def test_killing_the_catalog_while_orders_are_placed(backing: str) -> None:
    async with running_shop(backing) as stack:
        api = DirectShopApi(stack)
        admin = await login(api, ADMIN_EMAIL, ADMIN_PASSWORD)
        initial = 12
        product = (await new_product(api, admin, stock=initial))["id"]
        customers = [await new_customer(api) for _ in range(3)]
        placed: list[tuple[str, str, int]] = []  # order id, customer token, quantity

        async def burst(start: int, count: int) -> None:
            async def place(i: int) -> None:
                token, quantity = customers[i % len(customers)], 1 + i % 3
                body = {"items": [{"product_id": product, "quantity": quantity}]}
                response = await api.request("POST", "/api/orders", json=body, token=token)
                assert response.status_code == 202, response.text
                placed.append((response.json()["id"], token, quantity))

            await asyncio.gather(*(place(i) for i in range(start, start + count)))

        await burst(0, 4)
        stack.processes["catalog"].kill()  # SIGKILL, probably in the middle of reserving
        await burst(4, 5)  # orders still accepts: it does not call the catalog
        await stack.start("catalog").wait_ready()
        await burst(9, 3)

        orders = [await settled(api, order_id, token, within=60) for order_id, token, _ in placed]
        confirmed = sum(q for (_, _, q), o in zip(placed, orders, strict=True) if o["status"] == "CONFIRMED")
        assert {o["status"] for o in orders} <= {"CONFIRMED", "CANCELLED"}
        assert 0 < confirmed <= initial
        assert await stock_of(api, product) == initial - confirmed

        def about_orders() -> Counter[str]:
            sent = sent_notifications(stack)
            return Counter({body: n for body, n in sent.items() if any(o["id"] in body for o in orders)})

        async def all_sent() -> Counter[str] | None:
            sent = about_orders()
            return sent if len(sent) == len(orders) else None

        await eventually(all_sent, within=30, what="every order's notification")
        await asyncio.sleep(1)  # a duplicate would be a late redelivery: give it time to show
        sent = about_orders()
        assert len(sent) == len(orders) and set(sent.values()) == {1}, sent


async def test_an_event_committed_before_a_crash_is_published_after_restart() -> None:
    async with running_shop("sqlite") as stack:
        api = DirectShopApi(stack)
        admin = await login(api, ADMIN_EMAIL, ADMIN_PASSWORD)
        product = (await new_product(api, admin, stock=5))["id"]
        customer = await new_customer(api)

        stack.processes["orders"].stop()
        crashing = stack.start("orders", SHOP_FAULT="exit-after-commit:orders.order_placed")
        await crashing.wait_ready()
        body = {"items": [{"product_id": product, "quantity": 2}]}
        with pytest.raises(httpx.TransportError):  # the process dies before it can answer
            await api.request("POST", "/api/orders", json=body, token=customer)
        assert await crashing.wait_exit() == EXIT_CODE

        data = stack.run_dir / "data"
        with sqlite3.connect(data / "orders.db") as db:
            assert db.execute("SELECT topic FROM event_outbox").fetchall() == [("orders.order_placed",)]
        with sqlite3.connect(data / "events.db") as log:
            assert log.execute(
                "SELECT count(*) FROM events WHERE topic = 'orders.order_placed'"
            ).fetchone() == (0,)

        await stack.start("orders").wait_ready()
        [order] = (await api.request("GET", "/api/orders", token=customer)).json()["items"]
        assert (await settled(api, order["id"], customer))["status"] == "CONFIRMED"
        assert await stock_of(api, product) == 3

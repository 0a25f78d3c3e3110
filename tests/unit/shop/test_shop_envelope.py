"""Event schemas: tolerant reading, versions, and what cannot be read."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from shop.common.events import Envelope, Event, EventSchemaError


class PriceChanged(Event):
    topic: ClassVar[str] = "test.price_changed"
    version: ClassVar[int] = 2

    product_id: str
    price_cents: int

    @classmethod
    def upcast(cls, version: int, data: dict[str, Any]) -> dict[str, Any]:
        if version == 1:  # v1 carried a decimal string
            return {"product_id": data["product_id"], "price_cents": round(float(data["price"]) * 100)}
        return super().upcast(version, data)


def envelope(version: int, data: dict[str, Any], topic: str = PriceChanged.topic) -> Envelope:
    return Envelope(topic=topic, version=version, source="test", data=data)


def test_round_trip_through_json() -> None:
    original = Envelope.wrap(PriceChanged(product_id="p", price_cents=100), source="catalog")
    assert Envelope.from_json(original.to_json()).open(PriceChanged) == PriceChanged(
        product_id="p", price_cents=100
    )


def test_unknown_fields_are_ignored() -> None:
    event = envelope(2, {"product_id": "p", "price_cents": 5, "currency": "EUR"}).open(PriceChanged)
    assert event.price_cents == 5


def test_an_older_version_is_upcast() -> None:
    assert envelope(1, {"product_id": "p", "price": "12.34"}).open(PriceChanged).price_cents == 1234


@pytest.mark.parametrize(
    "bad",
    [
        envelope(3, {"product_id": "p", "price_cents": 5}),
        envelope(2, {"product_id": "p"}),
        envelope(2, {"product_id": "p", "price_cents": 5}, topic="test.other"),
    ],
)
def test_what_no_version_can_read_is_a_schema_error(bad: Envelope) -> None:
    with pytest.raises(EventSchemaError):
        bad.open(PriceChanged)

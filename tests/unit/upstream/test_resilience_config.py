"""Resilience config models (config/resilience.py): defaults and clear refusals."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from portway.config.models import Upstream
from portway.config.resilience import Breaker, HealthCheck, Outlier, parse_statuses


def test_everything_is_off_by_default() -> None:
    up = Upstream(targets=["http://a:1"])
    assert (up.health, up.outlier, up.breaker, up.retries, up.max_concurrent) == (None,) * 5


def test_defaults_match_the_design_sketch() -> None:
    assert HealthCheck().statuses == frozenset(range(200, 400))
    assert (Outlier().consecutive_failures, Outlier().max_ejected) == (5, 0.5)
    assert (Breaker().failures, Breaker().cooldown, Breaker().half_open) == (5, 10.0, 2)


def test_shares_and_status_ranges_parse() -> None:
    assert Outlier(max_ejected="25%").max_ejected == 0.25  # type: ignore[arg-type]
    assert parse_statuses(["200-204", 418]) == frozenset({200, 201, 202, 203, 204, 418})


@pytest.mark.parametrize(("model", "data", "message"), [
    (HealthCheck, {"path": "health"}, "starting with '/'"),
    (HealthCheck, {"expect": ["299-200"]}, "end is below the start"),
    (HealthCheck, {"expect": ["ok"]}, "invalid status"),
    (Outlier, {"max_ejected": "150%"}, "between 0% and 100%"),
    (Outlier, {"base_ejection": "10s", "max_ejection": "1s"}, "max_ejection must be at least"),
    (Breaker, {"half_open": 0}, "greater than or equal to 1"),
])  # fmt: skip
def test_bad_values_are_refused_with_a_clear_message(
    model: type, data: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        model.model_validate(data)

"""build_all: what building the gateway raises comes back as located problems, whichever way it
fails: a ConfigValueError names its key, a chain's ConfigError its key path, anything else is found
by rebuilding without parts of the config. Building binds nothing and leaves nothing open."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portway.commands import validate
from portway.config import ConfigError, ConfigProblem, load_config

TEXT = """\
upstreams:
  good: {targets: ["http://127.0.0.1:9"]}
  bad: {targets: ["http://127.0.0.1:9"]}
routes:
  - {path: /a/, upstream: good}
  - {path: /b/, upstream: good}
  - {path: /boom/, upstream: bad}
  - {path: /c/, upstream: good}
"""


def build(tmp_path: Path, text: str = TEXT) -> list[str]:
    path = tmp_path / "gw.yaml"
    path.write_text(text)
    try:
        validate.build_all(load_config(path, env={}), path)
    except ConfigError as exc:
        return [str(p).removeprefix(f"{path}:") for p in exc.problems]
    return []


def failing(monkeypatch: pytest.MonkeyPatch, when: Any, error: Exception) -> None:
    real = validate._construct

    def construct(config: Any, path: Any, loop: Any, tls: Any) -> Any:
        if when(config):
            raise error
        return real(config, path, loop, tls)

    monkeypatch.setattr(validate, "_construct", construct)


def test_a_good_config_builds(tmp_path: Path) -> None:
    redis = TEXT + "rate_limit_store: {backend: redis, redis_url: 'redis://127.0.0.1:1/0'}\n"
    assert (
        build(tmp_path, redis.replace("upstream: bad}", "upstream: bad, rate_limit: {limit: 1, per: 1s}}"))
        == []
    )


def test_an_unexpected_error_is_blamed_on_the_route_that_causes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing(monkeypatch, lambda c: any(r.path == "/boom/" for r in c.routes), RuntimeError("it broke"))
    assert build(tmp_path) == ["7: routes[2]: it broke"]


def test_an_unexpected_error_outside_routes_is_blamed_on_its_upstream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing(monkeypatch, lambda c: "bad" in c.upstreams, KeyError())
    assert build(tmp_path) == ["3: upstreams.bad: KeyError"]


def test_a_key_named_by_the_builder_is_reported_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing(monkeypatch, lambda c: True, validate.ConfigValueError(("routes", 3, "path"), "no good"))
    assert build(tmp_path) == ["8: routes[3].path: no good"]


def test_a_chain_error_without_a_line_gets_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    error = ConfigError([ConfigProblem("gw.yaml", None, "routes[1].cors", "refused")])
    failing(monkeypatch, lambda c: True, error)
    assert build(tmp_path) == ["6: routes[1].cors: refused"]


def test_opening_the_store_is_part_of_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import portway.policies.chain as chain

    def refuse(config: object) -> object:
        raise ValueError("the store says no")

    monkeypatch.setattr(chain, "open_store", refuse)
    redis = TEXT + "rate_limit_store: {backend: redis}\n"
    assert build(tmp_path, redis) == ["9: rate_limit_store: the store says no"]


def test_an_unwritable_access_log_is_found_without_creating_it(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "access.log"
    assert build(tmp_path, TEXT + f"access_log: {{path: {log}}}\n") == [
        f"9: access_log.path: cannot write the access log: the directory {log.parent} does not exist"
    ]
    log.parent.mkdir()
    assert build(tmp_path, TEXT + f"access_log: {{path: {log}}}\n") == []
    assert not log.exists()

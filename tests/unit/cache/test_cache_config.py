"""Cache config that cannot work fails `portway check` with file:line and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from portway.commands import validate
from portway.config import ConfigError, load_config

BASE = """\
upstreams:
  svc: {targets: ["http://127.0.0.1:9"]}
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "gw.yaml"
    path.write_text(BASE + text)
    try:
        validate.build_all(load_config(path, env={}), path)
    except ConfigError as exc:
        return [str(p).removeprefix(f"{path}:") for p in exc.problems]
    return []


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("cache:\n  store: {backend: redis, redis_url: 'http://x:1'}\n", 4, "redis://"),
        ("cache:\n  store: {backend: redis, redis_url: 'redis://host:99999/0'}\n", 4, "port"),
        ("cache:\n  store:\n    max_bytes: -5MB\n", 5, "invalid size"),
        ("cache:\n  store:\n    max_bytes: 5TB\n", 5, "size"),
        ("cache:\n  store:\n    max_bytes: 2000GB\n", 5, "1TB"),
        ("cache:\n  max_object: 0\n", 4, "larger than 0"),
        ("cache:\n  max_object: 2GB\n", 4, "1GB"),
        ("cache:\n  collapse_wait: 5m\n", 4, "60s"),
        ("routes:\n  - {path: /, upstream: svc, cache: {key_headers: ['bad header']}}\n", 4, "header name"),
        ("routes:\n  - path: /\n    upstream: svc\n    cache: {max_object: 100MB}\n", 6, "max_bytes"),
    ],
)
def test_a_cache_that_cannot_work_is_refused_with_its_line(
    tmp_path: Path, text: str, line: int, fragment: str
) -> None:
    found = problems(tmp_path, text)
    assert found, "the config was accepted"
    assert found[0].startswith(f"{line}:"), found
    assert fragment in found[0], found


def test_a_good_cache_config_checks(tmp_path: Path) -> None:
    text = (
        "cache:\n  store: {max_bytes: 16MB}\n  max_object: 1MB\n"
        "routes:\n  - {path: /, upstream: svc, cache: {}}\n"
    )
    assert problems(tmp_path, text) == []

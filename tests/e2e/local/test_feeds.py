"""What `portway up` makes of the upstreams its services feed: data in, data out."""

from __future__ import annotations

from portway.config import parse_config
from portway.local.feeds import fed_upstreams

CONFIG = """
upstreams:
  catalog: {targets: []}
  users:
    targets: []
    health: {path: /livez, interval: 5s}
  payments: {targets: ["http://127.0.0.1:9"]}
  search: {targets: []}
services:
  catalog:
    command: catalog {socket}
    health: /ready
    checks: {interval: 2s, timeout: 500ms, eject_after: 3, restart_after: 6}
  users:
    command: users {socket}
  indexer:
    command: indexer {socket}
    upstream: search
    health: /healthz
"""


def test_fed_upstreams_get_the_sockets_and_active_checks_at_the_supervisors_pace() -> None:
    config = parse_config(CONFIG, "up.yaml", env={})
    targets = {
        "catalog": ["unix:/run/catalog-1.sock", "unix:/run/catalog-2.sock"],
        "users": ["unix:/run/users-1.sock"],
        "search": ["unix:/run/indexer-1.sock"],
    }
    out = fed_upstreams(config.upstreams, config.services, targets)

    catalog = out["catalog"]
    assert catalog.targets == targets["catalog"]
    assert catalog.health is not None
    assert (catalog.health.path, catalog.health.interval, catalog.health.timeout) == ("/ready", 2.0, 0.5)
    assert catalog.health.unhealthy == 3 and catalog.health.statuses == frozenset({200})
    assert catalog.timeouts == config.upstreams["catalog"].timeouts  # nothing else changes

    # An upstream's own `health:` is the user's choice and stays.
    assert out["users"].health == config.upstreams["users"].health
    assert out["users"].targets == targets["users"]

    # A service feeding an upstream of another name brings its own health path.
    assert out["search"].health is not None and out["search"].health.path == "/healthz"

    # An upstream no service feeds is left exactly as written.
    assert out["payments"] == config.upstreams["payments"]
    assert out["payments"].health is None

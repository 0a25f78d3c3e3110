"""The admin listener's application: ``/health``, ``/status`` and ``/metrics`` (Prometheus) of this
gateway process. It reads what the running process offers (:class:`Observed`) and never reaches
into the stages' fields: pools, upstreams and the gateway each give a ``snapshot()``."""

from __future__ import annotations

import json
import os
from typing import Protocol

from portway.admin.dashboard import Dashboard
from portway.contract import Answer, Decision, RequestHead, Responder
from portway.errors import ClientError

_JSON = b"application/json"
_PROMETHEUS = b"text/plain; version=0.0.4; charset=utf-8"
_NO_STORE = [(b"cache-control", b"no-store")]


class Observed(Protocol):
    @property
    def draining(self) -> bool: ...

    def snapshot(self) -> dict[str, object]: ...
    def exposition(self) -> bytes: ...


class AdminApp:
    def __init__(self, observed: Observed, dashboard: Dashboard | None = None) -> None:
        self.observed = observed
        self.dashboard = dashboard

    def handle(self, head: RequestHead, responder: Responder) -> Decision:
        path = head.target.partition(b"?")[0]
        if self.dashboard is not None and self.dashboard.serves(path):  # `/` and `/dashboard/*`
            return self.dashboard.handle(head)
        if head.method not in ("GET", "HEAD"):
            return ClientError(405, "the admin API is read-only", [(b"allow", b"GET, HEAD")])
        if path == b"/health":
            return _json({"status": "draining" if self.observed.draining else "ok"})
        if path == b"/status":
            return _json({"pid": os.getpid(), **self.observed.snapshot()})
        if path == b"/metrics":
            return Answer(200, body=self.observed.exposition(), content_type=_PROMETHEUS)
        return ClientError(404, "unknown admin endpoint")


def _json(doc: dict[str, object]) -> Answer:
    return Answer(200, list(_NO_STORE), json.dumps(doc).encode(), _JSON)

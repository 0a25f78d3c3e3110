"""The live dashboard on the admin listener (docs/observability.md).

``GET /`` is one HTML page; its script and style ship in the package (``admin/static/``), so it
works offline and under a strict Content-Security-Policy (no inline script, nothing from
elsewhere). The page polls ``GET /dashboard/data?since=N`` every second: the frames newer than
``N`` from :class:`~portway.telemetry.series.SeriesRecorder`, a summary of the last seconds per
route, the upstream targets as last sampled, recent errors and reloads.

The files are read once, when the dashboard is built; a request only copies bytes out.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from importlib.resources import files
from typing import Protocol
from urllib.parse import parse_qs

from portway.admin.redact import redact
from portway.admin.version import config_version as version_of
from portway.contract import Answer, Decision, RequestHead
from portway.errors import ClientError
from portway.gateway import Gateway
from portway.tasks import spawn
from portway.telemetry.metrics import RouteStats, UpstreamSample
from portway.telemetry.series import Frame, SeriesRecorder

SUMMARY_SECONDS = 10.0  # the "now" figures: long enough to be steady at low rates, short enough to be live
_SECURITY = [
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"),
]
_STATIC = {
    b"/": ("index.html", b"text/html; charset=utf-8"),
    b"/dashboard/app.js": ("app.js", b"text/javascript; charset=utf-8"),
    b"/dashboard/style.css": ("style.css", b"text/css; charset=utf-8"),
}
DATA_PATH = b"/dashboard/data"


class Running(Protocol):
    """What the dashboard reads of the running process (runtime.RunningServer)."""

    reloads: int

    @property
    def gateway(self) -> Gateway: ...


class GatewaySource:
    """The running gateway as the recorder's :class:`~portway.telemetry.series.SeriesSource`: it
    follows reloads, since it reads ``running.gateway`` afresh each tick."""

    def __init__(self, running: Running) -> None:
        self.running = running
        self._version: tuple[int, str] | None = None

    def route_stats(self) -> Mapping[str, RouteStats]:
        gateway = self.running.gateway
        routes = gateway.metrics.routes
        # Only the routes of the running config: a route removed by a reload keeps its counters
        # (they never reset) but leaves the dashboard.
        return {r.display_name: routes[r.display_name] for r in gateway.config.routes}

    def upstream_samples(self) -> Sequence[UpstreamSample]:
        return [upstream.sample() for upstream in self.running.gateway.upstreams.values()]

    def generation(self) -> tuple[int, str]:
        reloads = self.running.reloads
        if self._version is None or self._version[0] != reloads:
            self._version = (reloads, config_version(self.running.gateway))
        return self._version


def config_version(gateway: Gateway) -> str:
    """The version ``/config`` shows (admin/version.py), so the two can be compared. Computed once
    per reload; with secrets in the config that is one scrypt (~0.1 s), as a reload's own build."""
    redacted, removed = redact(gateway.config.model_dump(mode="json"))
    return version_of(redacted, removed)


class Dashboard:
    def __init__(self, recorder: SeriesRecorder) -> None:
        self.recorder = recorder
        static = files("portway.admin").joinpath("static")
        self._files = {
            path: (static.joinpath(name).read_bytes(), content_type)
            for path, (name, content_type) in _STATIC.items()
        }

    @classmethod
    def start(cls, running: Running) -> Dashboard:
        """A dashboard over ``running`` whose recorder samples in the background from now on."""
        recorder = SeriesRecorder(GatewaySource(running))
        spawn(recorder.run(), name="dashboard series")
        return cls(recorder)

    @staticmethod
    def serves(path: bytes) -> bool:
        return path in _STATIC or path == DATA_PATH

    @staticmethod
    def is_page(path: bytes) -> bool:
        """The page, its script and style: they hold no data, so they load without the admin
        token; the page then asks for it and sends it with each data request."""
        return path in _STATIC

    def handle(self, head: RequestHead) -> Decision:
        if head.method not in ("GET", "HEAD"):
            return ClientError(405, "the dashboard is read-only", [(b"allow", b"GET, HEAD")])
        path, _, query = head.target.partition(b"?")
        if path == DATA_PATH:
            return self._data(query)
        body, content_type = self._files[path]
        return Answer(200, list(_SECURITY), body, content_type)

    def _data(self, query: bytes) -> Decision:
        values = parse_qs(query.decode("latin-1")).get("since", ["0"])
        try:
            since = int(values[-1])
        except ValueError:
            return ClientError(400, f"since must be a frame number, not {values[-1]!r}")
        if since < 0:
            return ClientError(400, "since must be a frame number (0 or more)")
        body = json.dumps(self.document(since), separators=(",", ":")).encode()
        return Answer(200, list(_SECURITY), body, b"application/json")

    def document(self, since: int) -> dict[str, object]:
        recorder = self.recorder
        return {
            "pid": os.getpid(),  # frame numbers are this process's: another's start afresh
            "cursor": recorder.cursor,
            "interval": recorder.interval,
            "window": recorder.window,
            "frames": [_frame(f) for f in recorder.since(since)],
            "summary": {
                name: {
                    "rate": s.rate,
                    "error_ratio": s.error_ratio,
                    "client_error_ratio": s.client_error_ratio,
                    "p50": s.p50,
                    "p99": s.p99,
                }
                for name, s in recorder.summary(SUMMARY_SECONDS).items()
            },
            "summary_seconds": SUMMARY_SECONDS,
            "upstreams": [
                {
                    "name": up.name,
                    "in_flight": up.in_flight,
                    "targets": [
                        {
                            "target": t.target,
                            "health": t.state,
                            "available": t.available,
                            "breaker": t.breaker,
                            "ejections": t.ejections,
                            "open": t.open,
                            "busy": t.busy,
                            "idle": t.idle,
                            "since": recorder.target_since(up.name, t.target),
                        }
                        for t in up.targets
                    ],
                }
                for up in recorder.targets
            ],
            "errors": [
                {
                    "time": e.time,
                    "request_id": e.request_id,
                    "route": e.route,
                    "status": e.status,
                    "target": e.target,
                    "trace_id": e.trace_id,
                }
                for e in recorder.recent_errors()
            ],
            "reloads": [
                {"time": r.time, "generation": r.generation, "version": r.version}
                for r in reversed(recorder.reloads)
            ],
        }


def _frame(frame: Frame) -> dict[str, object]:
    return {
        "seq": frame.seq,
        "time": frame.time,
        "elapsed": frame.elapsed,
        "routes": {
            name: {
                "requests": p.requests,
                "4xx": p.client_errors,
                "5xx": p.server_errors,
                "p50": p.quantile(0.5),
                "p99": p.quantile(0.99),
            }
            for name, p in frame.routes.items()
        },
    }

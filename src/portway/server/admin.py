"""The admin listener (loopback only): ``/health``, ``/status`` and ``/metrics`` (Prometheus) of this
gateway process."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from portway.server.problem import problem_response
from portway.server.protocol import HttpConnection
from portway.server.request import RequestHead
from portway.server.state import ANSWERED, Handler

if TYPE_CHECKING:
    from portway.server.serve import RunningServer


class AdminApp:
    def __init__(self, running: RunningServer) -> None:
        self.running = running

    def handle(self, head: RequestHead, conn: HttpConnection) -> Handler:
        path = head.target.partition(b"?")[0]
        if head.method not in ("GET", "HEAD"):
            conn.refuse(405, "the admin API is read-only", head, headers=[(b"allow", b"GET, HEAD")])
        elif path == b"/health":
            self._json(conn, head, {"status": "draining" if self.running.state.draining else "ok"})
        elif path == b"/status":
            self._json(conn, head, self._status())
        elif path == b"/metrics":
            body = self.running.gateway.metrics.exposition()
            keep = head.keep_alive
            conn.respond(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4; charset=utf-8\r\n"
                + b"content-length: %d\r\n%s\r\n" % (len(body), b"" if keep else b"connection: close\r\n")
                + (b"" if head.method == "HEAD" else body),
                keep,
            )
        else:
            conn.respond(problem_response(404, "unknown admin endpoint", head.request_id), head.keep_alive)
        return ANSWERED

    def _status(self) -> dict[str, object]:
        running = self.running
        gateway = running.gateway
        return {
            "pid": os.getpid(),
            "listen": running.address,
            "connections": len(running.state.connections),
            "reloads": running.reloads,
            "routes": [r.display_name for r in gateway.config.routes],
            "upstreams": {
                name: [
                    {
                        "target": p.target.address,
                        "open": p.open,
                        "busy": p.busy,
                        "idle": len(p.idle),
                        "up": p.available,
                    }
                    for p in upstream.pools
                ]
                for name, upstream in gateway.upstreams.items()
            },
        }

    @staticmethod
    def _json(conn: HttpConnection, head: RequestHead, doc: dict[str, object]) -> None:
        body = json.dumps(doc).encode()
        keep = head.keep_alive
        lines = [
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: no-store\r\n",
            b"content-length: %d\r\n" % len(body),
            b"" if keep else b"connection: close\r\n",
            b"\r\n",
            b"" if head.method == "HEAD" else body,
        ]
        conn.respond(b"".join(lines), keep)

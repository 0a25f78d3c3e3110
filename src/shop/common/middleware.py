"""The one middleware every service runs (pure ASGI, outermost of ours).

Per request: continue the gateway's request id and trace (or start them), echo ``X-Request-Id``,
count and time the request by route template, write one access log line, and answer an exception
that escaped the app with a 500 problem instead of dropping the connection.
"""

from __future__ import annotations

import logging
import time

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shop.common import context
from shop.common.metrics import Metrics
from shop.common.problems import problem_response

log = logging.getLogger("shop.access")

QUIET_PATHS = frozenset({"/health", "/ready", "/metrics"})  # probed every few seconds: debug level


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        correlation = context.correlation_from(
            headers.get(b"x-request-id", b"").decode("latin-1"),
            headers.get(b"traceparent", b"").decode("latin-1"),
        )
        token = context.bind(correlation)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", correlation.request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error", extra={"path": scope["path"]})
            if response_started:
                raise
            await problem_response(500, detail="The service failed to handle the request")(
                scope, receive, send_with_id
            )
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = route.path if isinstance(route, BaseRoute) and hasattr(route, "path") else "unmatched"
            self.metrics.requests.labels(scope["method"], template, str(status)).inc()
            self.metrics.latency.labels(scope["method"], template).observe(elapsed)
            log.log(
                logging.DEBUG if scope["path"] in QUIET_PATHS else logging.INFO,
                "%s %s %d",
                scope["method"],
                scope["path"],
                status,
                extra={"status": status, "duration_ms": round(elapsed * 1000, 2), "route": template},
            )
            context.unbind(token)

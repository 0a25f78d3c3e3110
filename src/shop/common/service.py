"""What every service is made of, and the app factory that wires it the same way for all four.

A service module supplies its routers, its migrations folder and its subscriptions; everything else
(lifespan, middleware, problem handlers, ``/health``, ``/ready``, ``/metrics``, OpenAPI error shapes)
comes from here, so the four services read alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from shop.common import tracing
from shop.common.background import Background
from shop.common.db import Database
from shop.common.events import EventBus, backend_from_url
from shop.common.metrics import Metrics
from shop.common.middleware import RequestContextMiddleware
from shop.common.migrations import upgrade_to_head
from shop.common.problems import PROBLEM_JSON, Problem, ProblemDetails, install_problem_handlers
from shop.common.settings import Settings

READY_TIMEOUT = 2.0


class Service:
    """One running service: settings, database, events, metrics and background tasks."""

    def __init__(self, settings: Settings, *, migrations: Path) -> None:
        self.settings = settings
        self.migrations = migrations
        self.db = Database(settings.database_url, service=settings.service)
        self.metrics = Metrics()
        self.events = EventBus(
            self.db, backend_from_url(settings.events_url), self.metrics, fault=settings.fault
        )
        self.background = Background()

    def __repr__(self) -> str:
        return f"Service({self.settings.service!r}, {self.db!r}, {self.events.backend!r})"

    async def start(self) -> None:
        await upgrade_to_head(self.db, self.migrations)
        await self.events.start(self.background)

    async def stop(self) -> None:
        await self.background.close()
        await self.events.close()
        await self.db.close()


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.service.db.sessions() as session:
        yield session


DbSession = Annotated[AsyncSession, Depends(_session)]


class Health(BaseModel):
    status: str
    service: str


def _probes(service: Service) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health", summary="Liveness: the process serves requests")
    async def health() -> Health:
        return Health(status="ok", service=service.settings.service)

    @router.get(
        "/ready",
        summary="Readiness: the database and the broker answer",
        responses={503: {"description": "A dependency is unreachable"}},
    )
    async def ready() -> Health:
        for name, ping in (("database", service.db.ping), ("broker", service.events.ping)):
            try:
                await asyncio.wait_for(ping(), READY_TIMEOUT)
            except Exception as exc:
                raise Problem(503, f"{name} unreachable: {type(exc).__name__}") from exc
        return Health(status="ready", service=service.settings.service)

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        body, content_type = service.metrics.render()
        return Response(body, media_type=content_type)

    return router


def _problem_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """Every 4xx/5xx response in the schema is problem+json (FastAPI would say application/json)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ProblemDetails"] = ProblemDetails.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for status, response in operation.get("responses", {}).items():
                    if status[0] in "45":
                        response["content"] = problem
        app.openapi_schema = schema
        return schema

    return openapi


def create_service_app(
    service: Service,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    on_start: Callable[[Service], Awaitable[None]] | None = None,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        if on_start is not None:
            await on_start(service)
        try:
            yield
        finally:
            await service.stop()
            tracing.shutdown()

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.state.service = service
    app.add_middleware(RequestContextMiddleware, metrics=service.metrics)
    install_problem_handlers(app)
    app.include_router(_probes(service))
    for router in routers:
        app.include_router(router)
    app.openapi = _problem_openapi(app)  # type: ignore[method-assign]
    tracing.instrument(app, service.settings, service.db)  # on when OTEL_EXPORTER_OTLP_ENDPOINT is set
    return app

"""The admin listener's application: JSON documents about the running gateway and the two things
an operator does to it (reload, purge), described by its own OpenAPI document.

Rules:
- :data:`ENDPOINTS` is the one table of paths and methods; /openapi.json describes exactly it
  (a test holds the two together). Reading is GET (and HEAD); anything that changes state is
  POST; any other method is a 405 with ``Allow``; an unknown path a 404.
- With a token (config/admin.py) every request must carry it (admin/auth.py), checked before the
  path is looked at: without the token nothing is learnt, not even which paths exist.
- Every answer is ``Cache-Control: no-store``; every refusal problem+json (the server renders it).
- Documents come from an :class:`~portway.admin.source.AdminSource` (this process, or every worker
  of ``--workers N``); the app never reaches into the stages' fields.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Literal, cast

from portway.admin.auth import BearerToken
from portway.admin.dashboard import Dashboard
from portway.admin.deferred import Deferred, Result, too_large
from portway.admin.documents import PROMETHEUS, json_answer, problem_answer, text_answer
from portway.admin.openapi import openapi_document
from portway.admin.purge import parse_purge
from portway.admin.source import AdminSource, NoCache
from portway.contract import Answer, Decision, RequestHead, Responder
from portway.errors import ClientError

Method = Literal["GET", "POST"]
Endpoint = Callable[["AdminApp", RequestHead, bytes], Answer | ClientError | Awaitable[Result]]


class AdminApp:
    def __init__(
        self, source: AdminSource, token: str | None = None, dashboard: Dashboard | None = None
    ) -> None:
        self.source = source
        self.token = BearerToken(token) if token else None
        self.dashboard = dashboard

    def handle(self, head: RequestHead, responder: Responder) -> Decision:
        path = head.target.partition(b"?")[0]
        dashboard = self.dashboard
        if dashboard is not None and dashboard.is_page(path):
            return dashboard.handle(head)
        if self.token is not None and (refusal := self.token.refusal(head)) is not None:
            return refusal
        if dashboard is not None and dashboard.serves(path):  # its data: behind the token
            return dashboard.handle(head)
        methods = ENDPOINTS.get(path)
        if methods is None:
            return ClientError(404, "unknown admin endpoint (see /openapi.json)")
        method = "GET" if head.method == "HEAD" else head.method
        endpoint = methods.get(method)  # type: ignore[call-overload]
        if endpoint is None:
            allow = ", ".join(sorted({*methods, *(("HEAD",) if "GET" in methods else ())}))
            return ClientError(405, f"{path.decode()} takes {allow}", [(b"allow", allow.encode())])
        if method == "POST" or inspect.iscoroutinefunction(endpoint):
            refusal = too_large(head)
            if refusal is not None:
                return refusal
            return Deferred(head, responder, lambda body: _awaited(endpoint(self, head, body)))
        return cast(Answer | ClientError, endpoint(self, head, b""))  # a plain function: its answer

    # -- endpoints -------------------------------------------------------------------------------
    def health(self, head: RequestHead, body: bytes) -> Answer | ClientError:
        return json_answer({"status": "draining" if self.source.draining else "ok"})

    async def status(self, head: RequestHead, body: bytes) -> Result:
        return json_answer(await self.source.status())

    async def metrics(self, head: RequestHead, body: bytes) -> Result:
        return text_answer(await self.source.metrics(), PROMETHEUS)

    def routes(self, head: RequestHead, body: bytes) -> Answer | ClientError:
        return json_answer({"routes": self.source.routes()})

    def upstreams(self, head: RequestHead, body: bytes) -> Answer | ClientError:
        return json_answer({"upstreams": self.source.upstreams()})

    async def config(self, head: RequestHead, body: bytes) -> Result:
        return json_answer(await self.source.config_document())

    def openapi(self, head: RequestHead, body: bytes) -> Answer | ClientError:
        return json_answer(openapi_document(ENDPOINTS))

    async def reload(self, head: RequestHead, body: bytes) -> Result:
        if body.strip():
            return ClientError(400, "POST /reload takes no body: it reads the config file, as SIGHUP does")
        outcome = await self.source.reload()
        doc: dict[str, object] = {"version": outcome.version}
        if outcome.workers:
            doc["workers"] = outcome.workers
        if outcome.version is None and any(w.get("version") for w in outcome.workers):
            detail = "some workers reloaded and others did not (see workers): reload again or restart"
            return problem_answer(500, detail, head.request_id, errors=outcome.errors, **doc)
        if outcome.version is None:
            detail = "the config was refused; the running config stays"
            return problem_answer(422, detail, head.request_id, errors=outcome.errors, **doc)
        return json_answer(doc)

    async def purge(self, head: RequestHead, body: bytes) -> Result:
        selector = parse_purge(body)
        if isinstance(selector, ClientError):
            return selector
        try:
            return json_answer(await self.source.purge(selector))
        except NoCache:
            return ClientError(404, "no cache configured")


async def _awaited(result: Answer | ClientError | Awaitable[Result]) -> Result:
    return result if isinstance(result, Answer | ClientError) else await result


ENDPOINTS: dict[bytes, dict[Method, Endpoint]] = {
    b"/health": {"GET": AdminApp.health},
    b"/status": {"GET": AdminApp.status},
    b"/metrics": {"GET": AdminApp.metrics},
    b"/routes": {"GET": AdminApp.routes},
    b"/upstreams": {"GET": AdminApp.upstreams},
    b"/config": {"GET": AdminApp.config},
    b"/openapi.json": {"GET": AdminApp.openapi},
    b"/reload": {"POST": AdminApp.reload},
    b"/cache/purge": {"POST": AdminApp.purge},
}

"""The one family of gateway faults (DESIGN.md §1). Each carries the HTTP status it renders as, in
exactly one place (:mod:`portway.server.problem`).

- :class:`ClientError` — the client's request is refused: framing, a bad target, a denial by a
  policy. Its ``detail`` is written for the client.
- :class:`UpstreamError` — the upstream failed us, split by what reached it:

  * *nothing was sent* (:class:`ConnectError` and its TLS kinds, :class:`ConnectTimeout`,
    :class:`PoolTimeout`,
    :class:`NoHealthyTarget`): always safe to try another target;
  * *the request was sent* (:class:`UpstreamDisconnected`, :class:`ReadTimeout`,
    :class:`UpstreamProtocolError`): only an idempotent request may be replayed.

  Their ``detail`` (which target, which errno) is for the gateway's log; the client reads the
  class's ``public`` text only.
"""

from __future__ import annotations


class GatewayError(Exception):
    status = 500
    public = "the gateway could not handle this request"
    headers: list[tuple[bytes, bytes]] = []

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def public_detail(self) -> str:
        return self.public


class ClientError(GatewayError):
    """A refusal: ``status`` and ``detail`` become the problem+json the client reads; ``headers``
    go with it (``Allow``, ``WWW-Authenticate``, ``Retry-After``…)."""

    def __init__(self, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.headers = headers if headers is not None else []

    @property
    def public_detail(self) -> str:
        return self.detail


class UpstreamError(GatewayError):
    status = 502
    public = "the upstream service failed to answer"
    sent = True  # may the request have reached the upstream?


class ConnectError(UpstreamError):
    """The connection could not be opened (refused, unreachable, reset during connect)."""

    sent = False


class TlsVerifyError(ConnectError):
    """The upstream's certificate failed verification (unknown CA, wrong name, expired)."""

    public = "the upstream's certificate could not be verified"


class TlsHandshakeError(ConnectError):
    """The TLS handshake with the upstream failed (it wanted a client certificate, no common
    protocol version or cipher)."""

    public = "the TLS handshake with the upstream failed"


class ConnectTimeout(UpstreamError):
    """The connection was not established in time: a blackholed or overloaded target."""

    status = 504
    public = "the upstream service did not answer in time"
    sent = False


class PoolTimeout(UpstreamError):
    """Every connection to the target stayed busy for the whole acquire timeout."""

    status = 503
    public = "no upstream service is available"
    sent = False


class NoHealthyTarget(UpstreamError):
    status = 503
    public = "no upstream service is available"
    sent = False


class UpstreamDisconnected(UpstreamError):
    """The upstream closed (or reset) the connection after the request went out."""


class ReadTimeout(UpstreamError):
    status = 504
    public = "the upstream service did not answer in time"


class UpstreamProtocolError(UpstreamError):
    """The upstream's answer was not valid HTTP/1.1, or broke a limit (a head too large)."""

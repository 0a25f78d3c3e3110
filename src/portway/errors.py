"""The one family of gateway faults. Each carries the HTTP status it renders as (in exactly one
place, :mod:`portway.server.problem`); denials by policies are responses, not exceptions."""

from __future__ import annotations


class GatewayError(Exception):
    status = 500
    title = "Internal Server Error"


class UpstreamConnectError(GatewayError):
    status = 502
    title = "Bad Gateway"


class UpstreamProtocolError(GatewayError):
    status = 502
    title = "Bad Gateway"


class UpstreamTimeout(GatewayError):
    status = 504
    title = "Gateway Timeout"


class NoHealthyTarget(GatewayError):
    status = 503
    title = "Service Unavailable"


class PoolExhausted(GatewayError):
    status = 503
    title = "Service Unavailable"

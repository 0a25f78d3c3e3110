"""The ``tracing:`` section: where spans go (OTLP/HTTP), how many are kept, whose context is trusted.

Contract only; :mod:`portway.tracing` builds the tracer from it. An empty ``endpoint`` turns tracing
off, so a config can say ``endpoint: ${OTEL_EXPORTER_OTLP_ENDPOINT:-}`` and trace exactly when the
environment names a collector (12-factor; ``portway up`` passes the same variable to the services).
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from portway.config.models_base import Model
from portway.config.units import PositiveDuration

# RFC 9110 token: what a header name may be (the exporter sends these on every export).
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
TRACES_PATH = "/v1/traces"  # appended to a base endpoint, as OTEL_EXPORTER_OTLP_ENDPOINT is by the SDKs


class Tracing(Model):
    endpoint: str = ""  # http(s)://host:port[/path]; empty: tracing off
    service_name: str = Field(default="portway", min_length=1)
    sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)  # for new traces; a parent's decision wins
    # Whose `traceparent` is continued: everyone's, only `trusted_proxies`' (others start a new trace
    # linked to theirs), or nobody's.
    trust_incoming: Literal["all", "trusted_proxies", "none"] = "all"
    headers: dict[str, str] = {}  # sent with each export (a collector's API key)
    timeout: PositiveDuration = 5.0  # one export, retries included; spans queued meanwhile may drop
    queue_size: int = Field(default=8192, ge=1)  # spans waiting for export; beyond: dropped, counted
    batch_size: int = Field(default=512, ge=1)
    flush_interval: PositiveDuration = 1.0

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return ""
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected http(s)://host:port[/path] (OTLP/HTTP), got {value!r}")
        try:
            parts.port  # noqa: B018  # raises on a port that is not a number in range
        except ValueError:
            raise ValueError(f"invalid port in {value!r}") from None
        if parts.query or parts.fragment:
            raise ValueError("an OTLP endpoint has no query or fragment")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not _TOKEN.match(name):
                raise ValueError(f"{name!r} is not a valid header name")
            if any(c in value for c in "\r\n\0"):
                raise ValueError(f"the value of {name} contains a line break or NUL")
        return headers

    @property
    def enabled(self) -> bool:
        return bool(self.endpoint)

    @property
    def traces_url(self) -> str:
        """The URL spans are posted to: a base endpoint (no path) gets ``/v1/traces``."""
        base = self.endpoint
        return base.rstrip("/") + TRACES_PATH if urlsplit(base).path in ("", "/") else base

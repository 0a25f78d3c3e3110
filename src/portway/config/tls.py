"""TLS settings: the public listener's certificates (chosen by SNI), its redirect listener and HSTS,
and an upstream's client side (verification, expected name, client certificate for mTLS).

These are the file's contract only. The files they name are read, checked and turned into
``ssl.SSLContext`` objects by :func:`portway.server.tls.build_contexts`, which ``portway run`` and
``portway check`` both call, so a certificate problem is a config error with its line.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from portway.config.models_base import Model
from portway.config.units import Duration

# An SNI name as configured: a DNS name, optionally with one leading wildcard label.
_NAME = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def _listen(value: str) -> str:
    _host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return value


class Certificate(Model):
    """One certificate chain (leaf first, then intermediates, PEM) and its private key (PEM)."""

    cert: str
    key: str
    # SNI names this certificate answers for; by default the DNS names of its subjectAltName.
    names: list[str] | None = None

    @field_validator("names")
    @classmethod
    def _names(cls, names: list[str] | None) -> list[str] | None:
        if names is None:
            return None
        lowered = [n.lower().rstrip(".") for n in names]
        for name in lowered:
            if not _NAME.match(name):
                raise ValueError(f"{name!r} is not a DNS name (a wildcard may only be a leading '*.')")
        return lowered


class Hsts(Model):
    """``Strict-Transport-Security`` on every response the listener sends from an upstream."""

    max_age: Duration = 31_536_000.0  # one year, as browsers' preload lists ask
    include_subdomains: bool = False
    preload: bool = False

    @model_validator(mode="after")
    def _preload(self) -> Hsts:
        if self.preload and (self.max_age < 31_536_000 or not self.include_subdomains):
            raise ValueError("preload needs max_age of at least 1 year and include_subdomains")
        return self

    def header_value(self) -> bytes:
        value = f"max-age={int(self.max_age)}"
        if self.include_subdomains:
            value += "; includeSubDomains"
        if self.preload:
            value += "; preload"
        return value.encode()


class Redirect(Model):
    """A plain-HTTP listener that answers every request with a 308 to the same URL on HTTPS."""

    listen: str = "0.0.0.0:80"
    # The port in the Location: by default the TLS listener's (omitted when it is 443). Set it when
    # a port mapping publishes the listener on another port than it binds.
    https_port: int | None = Field(default=None, ge=1, le=65535)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        return _listen(value)


class ListenerTls(Model):
    """``tls:`` at the top level: the main listener speaks HTTPS."""

    # The first certificate is the default: it answers clients that send no SNI or a name no
    # certificate matches.
    certificates: list[Certificate] = Field(min_length=1)
    min_version: Literal["1.2", "1.3"] = "1.2"
    session_tickets: bool = True
    handshake_timeout: Duration = 10.0
    # How often the certificate and key files are checked for changes (their mtime); 0 = never
    # (SIGHUP still reloads them).
    watch: Duration = 10.0
    hsts: Hsts | None = None
    redirect: Redirect | None = None


class UpstreamTls(Model):
    """The client side of ``https://`` targets."""

    verify: bool = True  # off only for a lab: anyone on the path could then read the traffic
    ca_file: str | None = None  # PEM bundle; default: the system's CA store
    server_name: str | None = None  # the name the certificate must carry; default: the target's host
    cert: str | None = None  # a client certificate chain (PEM) for mTLS ...
    key: str | None = None  # ... and its key
    min_version: Literal["1.2", "1.3"] = "1.2"

    @model_validator(mode="after")
    def _pair(self) -> UpstreamTls:
        if (self.cert is None) != (self.key is None):
            raise ValueError("a client certificate needs both `cert` and `key`")
        return self

"""TLS at the edge and towards upstreams: contexts built from config, SNI, reload, redirects."""

from __future__ import annotations

from portway.server.tls.contexts import TlsContexts, build_contexts
from portway.server.tls.failures import HandshakeFailures, classify
from portway.server.tls.listener import ListenerCertificates, listen_tls
from portway.server.tls.redirect import RedirectToHttps, redirect_host

__all__ = [
    "HandshakeFailures",
    "ListenerCertificates",
    "RedirectToHttps",
    "TlsContexts",
    "build_contexts",
    "classify",
    "listen_tls",
    "redirect_host",
]

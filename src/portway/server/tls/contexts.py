"""Every TLS context a config asks for: the listener's SNI table and the upstreams' client contexts.

Rules:
- Everything is built at config-build time by :func:`build_contexts` (``portway run``, reload and
  ``portway check`` alike): a missing or unreadable file, a key that does not match its
  certificate, an expired certificate, a bad CA bundle are each a :class:`ConfigError` at the
  line of the key that names the file. A request never meets a TLS config problem.
"""

from __future__ import annotations

import ssl

from portway.config.models import GatewayConfig
from portway.config.tls import UpstreamTls
from portway.server.tls.files import Loc, Problems, leaf, load_pair
from portway.server.tls.listener import ALPN, VERSIONS, SniTable, build_table


# -- upstreams -----------------------------------------------------------------------------------
def client_context(tls: UpstreamTls, loc: Loc, problems: Problems) -> ssl.SSLContext | None:
    """The client context for an upstream's ``https://`` targets (verification on by default)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = VERSIONS[tls.min_version]
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    ctx.set_alpn_protocols(ALPN)
    if not tls.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif tls.ca_file is not None:
        try:
            ctx.load_verify_locations(cafile=tls.ca_file)
        except FileNotFoundError as exc:
            problems.add((*loc, "ca_file"), f"cannot read {tls.ca_file}: {exc.strerror or exc}")
            return None
        except (OSError, ssl.SSLError) as exc:
            problems.add((*loc, "ca_file"), f"{tls.ca_file} is not a PEM CA bundle ({exc})")
            return None
    else:
        ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if tls.cert is not None and tls.key is not None:
        if not load_pair(ctx, tls.cert, tls.key, loc, problems):
            return None
        if leaf(tls.cert, loc, problems) is None:
            return None
    return ctx


def upstream_contexts(config: GatewayConfig, problems: Problems) -> dict[str, ssl.SSLContext]:
    out: dict[str, ssl.SSLContext] = {}
    for name, upstream in config.upstreams.items():
        if any(t.startswith("https://") for t in upstream.targets):
            ctx = client_context(upstream.tls, ("upstreams", name, "tls"), problems)
            if ctx is not None:
                out[name] = ctx
    return out


class TlsContexts:
    """What :func:`build_contexts` makes of a config: the listener's SNI table (``None`` for a
    plain listener) and a client context per upstream with ``https://`` targets."""

    def __init__(self, listener: SniTable | None, upstreams: dict[str, ssl.SSLContext]) -> None:
        self.listener = listener
        self.upstreams = upstreams


def build_contexts(config: GatewayConfig, source: str = "<config>") -> TlsContexts:
    """Every TLS context the config asks for, or a :class:`ConfigError` naming each bad file."""
    problems = Problems(source)
    table = build_table(config.tls, problems) if config.tls is not None else None
    upstreams = upstream_contexts(config, problems)
    problems.raise_if_any()
    return TlsContexts(table, upstreams)

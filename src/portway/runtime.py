"""Running the gateway: startup → serve → shutdown, readable top to bottom. This module composes
the stages (the gateway as the server's application, the admin API beside it); the server itself
(:mod:`portway.server.serve`) knows nothing of routes or policies.

- startup: build the TLS contexts (:func:`portway.server.tls.build_contexts`: a bad certificate is
  a config error), compile the config into a :class:`Gateway`, bind (or adopt) the listener (TLS
  when ``tls:`` is set, with the optional plain-HTTP redirect listener beside it), start the
  sweeper, the certificate watcher and the optional admin listener.
- serve: until SIGTERM/SIGINT. SIGHUP reloads: the file is parsed and compiled into a new gateway
  first; if anything fails the old one stays and the reason is logged; otherwise the reference is
  swapped, and requests in flight finish on the old one. The certificates are swapped with it (and
  on their own when their files change); connections already open keep theirs.
- shutdown (drain): stop accepting, close idle keep-alive connections, let requests in flight end
  (responses then carry ``Connection: close``) for up to ``shutdown_grace``, then abort what is left.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from dataclasses import dataclass, field
from pathlib import Path

from portway.admin.app import AdminApp
from portway.admin.dashboard import Dashboard
from portway.admin.fanin import WorkersSource
from portway.admin.purge import Purger
from portway.admin.source import AdminSource, LocalSource
from portway.admin.workers import WorkerSet
from portway.config import ConfigError, ConfigProblem, GatewayConfig, load_config
from portway.config.errors import ConfigValueError, format_path
from portway.config.loader import locate
from portway.gateway import Gateway
from portway.server.listener import bind_tcp, bind_unix, sock_address
from portway.server.serve import drain, listen
from portway.server.state import ServerState
from portway.server.tls import ListenerCertificates, RedirectToHttps, build_contexts, listen_tls
from portway.sweeper import Sweeper
from portway.tasks import cancel_all, spawn
from portway.telemetry.access_log import AccessLog

log = logging.getLogger("portway")


@dataclass
class RunningServer:
    config: GatewayConfig
    config_path: Path | None
    state: ServerState
    server: asyncio.Server
    sweeper: Sweeper
    access_log: AccessLog | None
    admin: asyncio.Server | None = None
    private_admin: asyncio.Server | None = None  # --workers N: this worker's admin socket (admin/fanin.py)
    tls: ListenerCertificates | None = None
    redirect: asyncio.Server | None = None
    redirect_state: ServerState | None = None
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    reloads: int = 0

    @property
    def gateway(self) -> Gateway:
        app = self.state.app
        assert isinstance(app, Gateway)
        return app

    @property
    def address(self) -> str:
        return sock_address(self.server.sockets[0])

    @property
    def port(self) -> int:
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    def reload(self, config: GatewayConfig | None = None) -> bool:
        """Swap in a new config (read from the file unless given); on any error keep the old one."""
        return self.try_reload(config) is None

    def try_reload(self, config: GatewayConfig | None = None) -> ConfigError | None:
        """:meth:`reload`, saying why not: the problems that kept the running config (logged too)."""
        source = str(self.config_path or "<config>")
        try:
            if config is None:
                if self.config_path is None:
                    raise ConfigError([ConfigProblem(source, None, "", "started without a config file")])
                config = load_config(self.config_path)
            if (config.tls is None) != (self.tls is None):
                problem = ConfigProblem(source, None, "tls", "turning TLS on or off needs a restart")
                raise ConfigError([problem])
            contexts = build_contexts(config, source)
            new = Gateway(config, self.sweeper, self.access_log, self.gateway, source, tls=contexts)
        except ConfigError as exc:
            log.error("reload refused, keeping the running config:\n%s", exc)
            return exc
        except ConfigValueError as exc:  # a key loader or a store knew which key is at fault
            where = (
                locate(self.config_path, [(exc.loc, exc.message)])
                if self.config_path
                else ConfigError([ConfigProblem(source, None, format_path(exc.loc), exc.message)])
            )
            log.error("reload refused, keeping the running config:\n%s", where)
            return where
        except Exception as exc:
            log.exception("reload failed, keeping the running config")
            return ConfigError(
                [ConfigProblem(source, None, "", f"building it failed: {exc or type(exc).__name__}")]
            )
        if config.listen != self.config.listen:
            log.warning("listen address changes need a restart; still serving %s", self.address)
        if config.admin != self.config.admin:
            log.warning("admin listener or token changes need a restart; the admin API keeps its own")
        spawn(new.policy_state.warm_up(), name="policy warm-up")
        if self.tls is not None and config.tls is not None and contexts.listener is not None:
            self.tls.config = config.tls
            self.tls.install(contexts.listener)
        old = self.gateway
        old.retire()  # stops its health checks before the new gateway's start
        new.start()
        self.state.app = new
        self.state.limits = config.limits
        self.config = config
        self.reloads += 1
        if not new.policy_state.store_inherited:
            spawn(self._close_later(old), name="close the old rate-limit store")
        log.info("config reloaded (%d routes, %d upstreams)", len(config.routes), len(config.upstreams))
        return None

    async def _close_later(self, old: Gateway) -> None:
        # Requests still running on the old gateway may use its store until they finish.
        await asyncio.sleep(self.config.shutdown_grace)
        await old.policy_state.aclose()

    async def drain(self) -> None:
        servers = [self.server, *(s for s in (self.admin, self.private_admin) if s is not None)]
        if self.tls is not None:
            self.tls.stop_watching()
        drains = [drain(self.state, servers, self.config.shutdown_grace)]
        if self.redirect is not None and self.redirect_state is not None:
            drains.append(drain(self.redirect_state, [self.redirect], self.config.shutdown_grace))
        await asyncio.gather(*drains)
        self.sweeper.stop()
        self.gateway.retire()
        await cancel_all()
        await self.gateway.policy_state.aclose()
        if self.access_log is not None:
            self.access_log.close()
        if self.gateway.tracer is not None:
            self.gateway.tracer.join()  # the last spans go out (bounded: a dead collector waits no more)
        self.stopped.set()

    @property
    def draining(self) -> bool:
        return self.state.draining

    def exposition(self) -> bytes:
        gateway = self.gateway
        return gateway.metrics.exposition([upstream.sample() for upstream in gateway.upstreams.values()])

    def route_table(self) -> list[dict[str, object]]:
        return self.gateway.route_table()

    def snapshot(self) -> dict[str, object]:
        """This process, for the admin API: listener, connections, reloads, the gateway's own."""
        return {
            "listen": self.address,
            "connections": len(self.state.connections),
            "draining": self.state.draining,
            "reloads": self.reloads,
            **self.gateway.snapshot(),
        }


async def start(
    config: GatewayConfig,
    config_path: Path | None = None,
    sock: socket.socket | None = None,
    reuse_port: bool = False,
    workers: WorkerSet | None = None,  # --workers N: this worker's place among them
    purger: Purger | None = None,  # what POST /cache/purge calls (a response cache's)
) -> RunningServer:
    loop = asyncio.get_running_loop()
    sweeper = Sweeper(loop)
    source = str(config_path or "<config>")
    contexts = build_contexts(config, source)  # first: a bad certificate stops us before binding
    access_log = None
    if config.access_log.enabled:
        access_log = AccessLog(config.access_log.path, config.access_log.flush_interval)
    gateway = Gateway(config, sweeper, access_log, source=source, tls=contexts)
    spawn(gateway.policy_state.warm_up(), name="policy warm-up")
    gateway.start()
    state = ServerState(gateway, config.limits, sweeper)
    if sock is None:
        sock = bind_tcp(config.listen, reuse_port=reuse_port)
    certificates = None
    if config.tls is not None and contexts.listener is not None:
        certificates = ListenerCertificates(config.tls, contexts.listener, source)
        server = await listen_tls(state, sock, certificates)
        certificates.start_watching()
    else:
        server = await listen(state, sock)
    sweeper.start()
    running = RunningServer(config, config_path, state, server, sweeper, access_log, tls=certificates)
    if config.tls is not None and config.tls.redirect is not None and certificates is not None:
        https_port = config.tls.redirect.https_port or running.port
        redirect = RedirectToHttps(certificates, https_port)
        running.redirect_state = ServerState(redirect, config.limits, sweeper)
        redirect_sock = bind_tcp(config.tls.redirect.listen, reuse_port=reuse_port)
        running.redirect = await listen(running.redirect_state, redirect_sock)
    await _start_admin(running, workers, purger)
    return running


async def _start_admin(running: RunningServer, workers: WorkerSet | None, purger: Purger | None) -> None:
    """The admin listener, and with ``--workers N`` this worker's private admin socket: worker 0
    answers the listener for all of them (admin/fanin.py says why)."""
    config, sweeper = running.config, running.sweeper
    local = LocalSource(running, purger)
    if workers is not None:
        private = ServerState(AdminApp(local), config.limits, sweeper)  # the run directory is 0700
        running.private_admin = await listen(private, bind_unix(workers.sockets[workers.index]))
    if config.admin is None or (workers is not None and workers.index != 0):
        return
    source: AdminSource = local if workers is None else WorkersSource(local, workers)
    dashboard = Dashboard.start(running)  # this worker's series (worker 0's with --workers N)
    state = ServerState(AdminApp(source, config.admin.token, dashboard), config.limits, sweeper)
    running.admin = await listen(state, bind_tcp(config.admin.listen))
    log.info("admin API on http://%s", sock_address(running.admin.sockets[0]))


async def serve_forever(running: RunningServer) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, running.reload)
    scheme = "https" if running.tls is not None else "http"
    log.info("portway listening on %s://%s", scheme, running.address)
    if running.admin is not None:
        log.info("admin API and dashboard on http://%s/", sock_address(running.admin.sockets[0]))
    if running.redirect is not None:
        log.info("redirecting http://%s to https", sock_address(running.redirect.sockets[0]))
    await stop.wait()
    log.info("draining (grace %.1fs)", running.config.shutdown_grace)
    await running.drain()

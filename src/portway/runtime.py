"""Running the gateway: startup → serve → shutdown, readable top to bottom. This module composes
the stages (the gateway as the server's application, the admin API beside it); the server itself
(:mod:`portway.server.serve`) knows nothing of routes or policies.

- startup: compile the config into a :class:`Gateway`, bind (or adopt) the listener, start the
  sweeper and the optional admin listener.
- serve: until SIGTERM/SIGINT. SIGHUP reloads: the file is parsed and compiled into a new gateway
  first; if anything fails the old one stays and the reason is logged; otherwise the reference is
  swapped, and requests in flight finish on the old one.
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
from portway.config import ConfigError, GatewayConfig, load_config
from portway.gateway import Gateway
from portway.server.listener import bind_tcp, sock_address
from portway.server.serve import drain, listen
from portway.server.state import ServerState
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
        try:
            if config is None:
                if self.config_path is None:
                    raise ConfigError([])
                config = load_config(self.config_path)
            new = Gateway(config, self.sweeper, self.access_log, self.gateway, str(self.config_path))
        except ConfigError as exc:
            log.error("reload refused, keeping the running config:\n%s", exc)
            return False
        except Exception:
            log.exception("reload failed, keeping the running config")
            return False
        if config.listen != self.config.listen:
            log.warning("listen address changes need a restart; still serving %s", self.address)
        spawn(new.policy_state.warm_up(), name="policy warm-up")
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
        return True

    async def _close_later(self, old: Gateway) -> None:
        # Requests still running on the old gateway may use its store until they finish.
        await asyncio.sleep(self.config.shutdown_grace)
        await old.policy_state.aclose()

    async def drain(self) -> None:
        servers = [self.server] if self.admin is None else [self.server, self.admin]
        await drain(self.state, servers, self.config.shutdown_grace)
        self.sweeper.stop()
        self.gateway.retire()
        await cancel_all()
        await self.gateway.policy_state.aclose()
        if self.access_log is not None:
            self.access_log.close()
        self.stopped.set()

    @property
    def draining(self) -> bool:
        return self.state.draining

    def exposition(self) -> bytes:
        return self.gateway.metrics.exposition()

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
) -> RunningServer:
    loop = asyncio.get_running_loop()
    sweeper = Sweeper(loop)
    access_log = None
    if config.access_log.enabled:
        access_log = AccessLog(config.access_log.path, config.access_log.flush_interval)
    gateway = Gateway(config, sweeper, access_log, source=str(config_path or "<config>"))
    spawn(gateway.policy_state.warm_up(), name="policy warm-up")
    gateway.start()
    state = ServerState(gateway, config.limits, sweeper)
    if sock is None:
        sock = bind_tcp(config.listen, reuse_port=reuse_port)
    server = await listen(state, sock)
    sweeper.start()
    running = RunningServer(config, config_path, state, server, sweeper, access_log)
    if config.admin:
        admin_state = ServerState(AdminApp(running), config.limits, sweeper)
        admin_sock = bind_tcp(config.admin, reuse_port=reuse_port)
        running.admin = await listen(admin_state, admin_sock)
    return running


async def serve_forever(running: RunningServer) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, running.reload)
    log.info("portway listening on http://%s", running.address)
    await stop.wait()
    log.info("draining (grace %.1fs)", running.config.shutdown_grace)
    await running.drain()

"""`portway up FILE`: the whole system on one machine, with the gateway as its only TCP listener.

startup → serve → shutdown, in this order:
1. prepare the data directory and the private run directory (``rundir.py``); load the config with
   ``${PORTWAY_RUN_DIR}`` pointing at the run directory (so it can name sockets, e.g. the JWKS URL);
2. bind the public port and answer every request on it 503 + ``Retry-After`` (``starting.py``)
   until the end of step 4: nobody sees a half-started system (an empty catalog while seeding);
3. start every replica on its unix socket and wait until all answer their health path
   (``supervisor.py``); a failure ends here, naming the service and showing its last log lines;
4. seed demo data on the first run (``seed.py``);
5. hand the port to the gateway, started in this process with each fed upstream's targets set to
   its replicas' sockets and active health checks on (``feeds.py``), admin on loopback only; print
   where it listens and the dashboard's address, prove a request passes and print the quickstart
   (``quickstart.py``), then show the status table or the merged logs while the supervisor keeps
   checking, ejecting and restarting replicas;
6. on Ctrl-C or SIGTERM: the gateway drains first (no request reaches a stopping service), then the
   services get SIGTERM and, after the grace period, SIGKILL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path

from rich.console import Console

from portway.config import ConfigError, GatewayConfig, load_config
from portway.local import isolate, quickstart
from portway.local.certs import LocalTls, ensure_local_tls
from portway.local.feeds import fed_upstreams
from portway.local.logs import LogTail, follow, print_new
from portway.local.rundir import RunDir, RunDirError, prepare
from portway.local.seed import seed_once
from portway.local.starting import Placeholder
from portway.local.status import RequestCounter, StatusTable, report_changes
from portway.local.supervisor import StartupFailed, State, Supervisor
from portway.runtime import RunningServer, start
from portway.server.listener import bind_tcp, sock_address

SERVICE_GRACE = 10.0


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="gateway config (YAML) with a `services:` section")
    parser.add_argument(
        "--data-dir", metavar="DIR", default=".portway", help="kept across runs (default: %(default)s)"
    )
    parser.add_argument("--reset", action="store_true", help="wipe the data directory first")
    parser.add_argument("--logs", action="store_true", help="follow the merged logs instead of the table")
    parser.add_argument(
        "--isolate", action="store_true", help="services in their own network namespace (Linux, root)"
    )
    parser.add_argument(
        "--listen", metavar="HOST:PORT", help="override the config's listen address (HOST:PORT)"
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a private CA and certificate made in the data directory (tls/)",
    )
    parser.add_argument(
        "--admin",
        metavar="HOST:PORT",
        help="override the config's admin address (off loopback it needs admin.token)",
    )


def run(args: argparse.Namespace) -> int:
    # `make up` passes the time it started, so that the figure printed includes building the venv.
    started_at = float(os.environ.get("PORTWAY_STARTED_AT") or time.time())
    if args.isolate and (reason := isolate.unavailable()) is not None:
        print(f"portway up: --isolate: {reason}", file=sys.stderr)
        return 2
    try:
        rundir = prepare(Path(args.data_dir), reset=args.reset)
        # The config may use both: the run dir names sockets, the identity key is shared by the
        # gateway (auth.identity.signing_key) and the services, which inherit this environment.
        os.environ["PORTWAY_RUN_DIR"] = str(rundir.run)
        os.environ.setdefault("PORTWAY_IDENTITY_KEY", rundir.identity_key())
        config = load_config(args.file)
    except (RunDirError, ConfigError) as exc:
        print(f"portway up: {exc}", file=sys.stderr)
        return 1
    if not config.services:
        print(f"portway up: {args.file} has no `services:` section to start", file=sys.stderr)
        return 1
    overrides: dict[str, object] = {
        # Always on, in the run directory: the status table counts requests per replica from it.
        "access_log": config.access_log.model_copy(
            update={"enabled": True, "path": str(rundir.log("access"))}
        )
    }
    if args.listen:
        overrides["listen"] = args.listen
    local_tls = None
    if args.tls:
        # A private CA kept with the data (so a trust store that imported it keeps working), and a
        # gateway certificate for localhost, 127.0.0.1 and ::1 that it signs (keys 0600).
        local_tls = ensure_local_tls(rundir.root / "tls")
        certificate = {"cert": str(local_tls.cert), "key": str(local_tls.key)}
        overrides["tls"] = {**(config.tls.model_dump() if config.tls else {}), "certificates": [certificate]}
    if args.admin:
        overrides["admin"] = {**(config.admin.model_dump() if config.admin else {}), "listen": args.admin}
    try:
        config = GatewayConfig.model_validate({**config.model_dump(), **overrides})
    except ValueError as exc:
        print(f"portway up: {exc}", file=sys.stderr)
        return 1
    _log_to(rundir.log("gateway"))
    return asyncio.run(LocalSystem(config, rundir, args, started_at, local_tls).main())


def _log_to(path: Path) -> None:
    # The terminal belongs to the status table; the gateway's own log joins the merged logs instead.
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per health probe


class LocalSystem:
    def __init__(
        self,
        config: GatewayConfig,
        rundir: RunDir,
        args: argparse.Namespace,
        started_at: float,
        local_tls: LocalTls | None = None,
    ) -> None:
        self.config = config
        self.local_tls = local_tls
        self.scheme = "https" if config.tls is not None else "http"
        self.rundir = rundir
        self.follow_logs: bool = args.logs
        self.started_at = started_at
        self.since = "`make up` started" if os.environ.get("PORTWAY_STARTED_AT") else "start"
        self.console = Console(highlight=False, soft_wrap=True)
        self.supervisor = Supervisor(config.services, rundir, isolate=args.isolate)
        self.logs = LogTail()
        self.logs.add("gateway", rundir.log("gateway"))
        for replica in self.supervisor.replicas:
            self.logs.add(replica.name, replica.log)
        self.public: socket.socket | None = None  # the gateway's listening socket, bound first
        self.placeholder: Placeholder | None = None  # answers on it until the gateway takes over
        self.running: RunningServer | None = None
        self.view: asyncio.Task[None] | None = None

    async def main(self) -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal closed
            loop.add_signal_handler(signum, stop.set)
        startup = asyncio.ensure_future(self._start())
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait([startup, stopped], return_when=asyncio.FIRST_COMPLETED)
            if not startup.done():
                startup.cancel()
                await asyncio.gather(startup, return_exceptions=True)
                return 130
            await startup  # raises what the startup raised
            # Not spawn(): the gateway's drain cancels every spawned task, and the view should go
            # on showing the services stop.
            self.view = loop.create_task(self._view(), name="status view")
            await stopped
            return 0
        except StartupFailed as exc:
            self._startup_failed(exc)
            return 1
        except OSError as exc:
            where = (
                f"{self.config.listen} (admin {self.config.admin.listen})"
                if self.config.admin
                else self.config.listen
            )
            print(f"portway up: cannot listen on {where}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        finally:
            stopped.cancel()
            await self._shutdown()
            if self.view is not None:
                self.view.cancel()
                await asyncio.gather(self.view, return_exceptions=True)
            if self.follow_logs:
                print_new(self.logs, self.console)  # the services' last words

    async def _start(self) -> None:
        supervisor, console = self.supervisor, self.console
        self.public = bind_tcp(self.config.listen)
        self.placeholder = placeholder = await Placeholder.open(self.config, self.public)
        base = quickstart.base_url(sock_address(self.public), self.scheme)
        names = ", ".join(self.config.services)
        console.print(f"portway up: starting {names} ({len(supervisor.replicas)} replicas); "
                      f"{base} answers 503 until they are ready and seeded")  # fmt: skip
        console.print(f"portway up: run directory {self.rundir.run} (sockets, logs), data {self.rundir.root}")
        await supervisor.start()
        placeholder.app.phase = "seeding demo data"
        for result in await seed_once(self.config.services, self.rundir):
            state = "demo data" if result.ok else "[red]seed FAILED (runs again next start)[/red]"
            console.print(f"portway up: {result.service} {state}:")
            console.print(result.output, markup=False)
        placeholder.app.phase = "starting the gateway"
        upstreams = fed_upstreams(self.config.upstreams, self.config.services, supervisor.targets())
        await placeholder.close()
        self.placeholder = None
        config = self.config.model_copy(update={"upstreams": upstreams})
        self.running = running = await start(config, sock=self.public)
        supervisor.on_rotation = self._rotation
        for replica in supervisor.replicas:  # one may have left RUNNING since the supervisor saw it
            self._rotation(replica.socket, replica.state is State.RUNNING)
        admin = f"http://{sock_address(running.admin.sockets[0])}" if running.admin else None
        also = f", admin on {admin}" if admin else ""
        console.print(f"portway up: gateway on {base}{also}  (the only TCP listener; Ctrl-C stops)")
        if admin:
            console.print(f"portway up: dashboard: {admin}/")
        ca = self.local_tls.ca if self.local_tls is not None else None
        path = await quickstart.first_request(base, self.config, ca=ca)
        if path is not None:
            seconds = time.time() - self.started_at
            console.print(f"portway up: first request through the gateway (GET {path}) answered "
                          f"{seconds:.1f}s after {self.since}")  # fmt: skip
        lines = quickstart.curl_lines(base, self.config)
        if ca is not None:
            lines = [line.replace("curl -s ", f"curl -s --cacert {ca} ") for line in lines]
            console.print(f"portway up: HTTPS with a private CA: curl --cacert {ca} {base}/", markup=False)
        console.print("Try it:", *lines, sep="\n  ", markup=False)

    async def _view(self) -> None:
        if self.follow_logs:
            await follow(self.logs, self.console)
        elif self.console.is_terminal:
            assert self.running is not None
            counter = RequestCounter(self.rundir.log("access"))
            title = f"portway up — {quickstart.base_url(self.running.address, self.scheme)}"
            await StatusTable(self.supervisor, self.running, counter, self.logs, title).run(self.console)
        else:
            await report_changes(self.supervisor, self.console)

    def _rotation(self, socket: Path, up: bool) -> None:
        if self.running is None:
            return
        target = f"unix:{socket}"
        for upstream in self.running.gateway.upstreams.values():
            for pool in upstream.pools:
                if pool.target.address == target:
                    pool.mark_up() if up else pool.mark_down()

    def _startup_failed(self, exc: StartupFailed) -> None:
        print(f"portway up: {exc}; its last log lines ({exc.replica.log}):", file=sys.stderr)
        for line in exc.lines or ["(no output)"]:
            print(f"  | {line}", file=sys.stderr)

    async def _shutdown(self) -> None:
        self.supervisor.stopping = True  # a replica exiting from now on is not restarted
        if self.placeholder is not None:  # stopped while starting
            await self.placeholder.close()
        if self.running is None and self.public is not None:
            self.public.close()  # never handed to the gateway, which would have closed it
        if self.running is not None:
            self.console.print("portway up: draining the gateway, then stopping the services")
            with contextlib.suppress(Exception):
                await self.running.drain()
        await self.supervisor.stop(SERVICE_GRACE)

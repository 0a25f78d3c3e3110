"""`portway run FILE`: serve the gateway. With ``--workers N`` a supervisor forks N processes that
each bind the port with SO_REUSEPORT; it forwards SIGTERM/SIGHUP to them and replaces a worker
that dies unexpectedly."""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from portway import build
from portway.admin.workers import WorkerSet
from portway.commands.validate import build_all
from portway.config import ConfigError, load_config
from portway.config.hostport import parse_hostport
from portway.config.models import GatewayConfig
from portway.server.listener import bind_tcp

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class CannotStart(Exception):
    """The config is valid but the process cannot serve it (a port in use, a file it cannot open)."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="gateway config (YAML)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("PORTWAY_WORKERS", "1")))
    parser.add_argument("--listen", help="override the config's listen address (HOST:PORT)")
    parser.add_argument(
        "--log-level",
        type=str.lower,
        choices=["debug", "info", "warning", "error", "critical"],
        default=os.environ.get("PORTWAY_LOG_LEVEL", "info"),
    )


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s",
        stream=sys.stderr,
    )
    if args.listen:
        try:
            parse_hostport(args.listen)
        except ValueError as exc:
            print(f"portway: --listen: {exc}", file=sys.stderr)
            return 1
    try:
        config = load_config(args.file)
        build_all(config, args.file)  # the same checks as `portway check`, before anything binds
        if args.listen:
            config = config.model_copy(update={"listen": args.listen})
        # Once the config is known good (a refused config prints its errors and nothing else).
        logging.getLogger("portway").info("%s", build.describe())
        if args.workers <= 1:
            _serve(config, Path(args.file), reuse_port=False)
            return 0
        return _supervise(config, Path(args.file), args.workers)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
    except CannotStart as exc:
        print(f"portway: {exc}", file=sys.stderr)
    except OSError as exc:  # the supervisor's probe bind
        print(f"portway: cannot listen on {config.listen}: {exc.strerror or exc}", file=sys.stderr)
    return 1


def _serve(config: GatewayConfig, path: Path, reuse_port: bool, workers: WorkerSet | None = None) -> None:
    from portway.runtime import serve_forever, start

    async def main() -> None:
        # Bound here, not in start(), so that a failure names the listener that failed.
        try:
            sock = bind_tcp(config.listen, reuse_port=reuse_port)
        except OSError as exc:
            raise CannotStart(f"cannot listen on {config.listen}: {exc.strerror or exc}") from None
        try:
            running = await start(config, path, sock=sock, reuse_port=reuse_port, workers=workers)
        except OSError as exc:
            sock.close()
            if exc.filename is not None:
                raise CannotStart(f"cannot open {exc.filename}: {exc.strerror or exc}") from None
            admin = config.admin.listen if config.admin else "the admin socket"
            raise CannotStart(f"cannot listen on {admin} (admin): {exc.strerror or exc}") from None
        except BaseException:
            sock.close()
            raise
        await serve_forever(running)

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:  # uvloop is not available on every platform
        asyncio.run(main())


def _supervise(config: GatewayConfig, path: Path, workers: int) -> int:
    # Bind once here so port 0 resolves to one port all workers share, and errors show before forking.
    probe = bind_tcp(config.listen, reuse_port=True)
    host, port = probe.getsockname()[:2]
    config = config.model_copy(update={"listen": f"{host}:{port}"})
    probe.close()
    if config.admin is not None:
        # Worker 0 alone binds the admin listener (admin/fanin.py): a port 0 must stay the same
        # port when a replaced worker 0 binds it again.
        try:
            admin_probe = bind_tcp(config.admin.listen)
        except OSError as exc:
            raise CannotStart(
                f"cannot listen on {config.admin.listen} (admin): {exc.strerror or exc}"
            ) from None
        admin_host, admin_port = admin_probe.getsockname()[:2]
        admin_probe.close()
        admin = config.admin.model_copy(update={"listen": f"{admin_host}:{admin_port}"})
        config = config.model_copy(update={"admin": admin})
    # The workers' private admin sockets: a directory only this user can enter (mkdtemp: 0700).
    rundir = tempfile.mkdtemp(prefix="portway-workers-")
    try:
        return _watch(config, path, workers, rundir)
    finally:
        shutil.rmtree(rundir, ignore_errors=True)


def _watch(config: GatewayConfig, path: Path, workers: int, rundir: str) -> int:
    host, port = parse_hostport(config.listen)
    children: dict[int, int] = {}
    stopping = False

    supervisor = os.getpid()

    def spawn_worker(index: int) -> None:
        pid = os.fork()
        if pid == 0:
            _die_with(supervisor)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGHUP, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            try:
                _serve(config, path, reuse_port=True, workers=WorkerSet.in_directory(rundir, workers, index))
            finally:
                os._exit(0)
        children[pid] = index

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping = True
        for pid in children:
            os.kill(pid, signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    for i in range(workers):
        spawn_worker(i)
    logging.getLogger("portway").info("supervising %d workers on %s:%d", workers, host, port)
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        index = children.pop(pid, None)
        if index is not None and not stopping:
            logging.getLogger("portway").error("worker %d exited (status %d); replacing it", pid, status)
            time.sleep(0.5)
            spawn_worker(index)
    return 0


def _die_with(supervisor: int) -> None:
    """A worker is sent SIGTERM (and drains) when its supervisor dies, even of SIGKILL: an orphan
    would go on holding the ports, worker 0 the admin listener too. Linux only (prctl)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: a supervisor's death goes unnoticed, as before
        return
    if os.getppid() != supervisor:  # it died before prctl took effect
        os._exit(0)

"""One worker process of ``aiosio run --workers N`` (``python -m aiosio.workers.worker SPEC``).

The supervisor starts it with a JSON spec (:class:`WorkerSpec`) and hands it the listening socket
(``pass_fds``). The worker names its sessions after itself (``sid_prefix`` ``w{id}.``), installs the
hand-off (:mod:`~aiosio.workers.routing`), builds the app exactly as the single-process command
does, gives its Socket.IO servers the workers' cluster adapter (:mod:`~aiosio.workers.install`),
and serves the app on the shared socket and on its private Unix socket. It writes ``ready`` on
its ready pipe once it accepts connections, and stops gracefully (clients get a clean close,
:mod:`~aiosio.workers.drain`) on SIGINT/SIGTERM, when its supervisor is gone, or retires on SIGUSR1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["WorkerSpec", "main"]

logger = logging.getLogger("aiosio.workers")

#: What the supervisor sends a worker it replaces (a rolling restart): stop taking connections at
#: once, and shut down gracefully while the other workers serve (SIGTERM/SIGINT: everyone stops).
RETIRE_SIGNAL = signal.SIGUSR1


@dataclass
class WorkerSpec:
    """What a worker is told by its supervisor (sent as JSON on its command line)."""

    #: This worker's id: unique for the supervisor's lifetime (a restarted worker gets a new one).
    id: int
    #: The inherited listening socket and the write end of the ready pipe.
    fd: int
    ready_fd: int
    #: Where the workers' Unix sockets and the hub's are.
    runtime_dir: str
    hub_path: str
    #: ``"run"`` or ``"serve"``, and that command's parsed options (``vars(args)``).
    command: str
    args: dict[str, Any] = field(default_factory=dict)
    redis_url: str | None = None

    def dumps(self) -> str:
        """The spec as JSON."""
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, text: str) -> WorkerSpec:
        """A spec from JSON."""
        return cls(**json.loads(text))

    @property
    def handover_path(self) -> str:
        """Where this worker takes connections other workers hand over."""
        return str(Path(self.runtime_dir) / f"w{self.id}.fd")

    @property
    def unix_path(self) -> str:
        """This worker's private socket."""
        return str(Path(self.runtime_dir) / f"w{self.id}.sock")


async def _build(spec: WorkerSpec, args: argparse.Namespace) -> tuple[Any, list[Any], str]:
    """The app, the servers to shut down, and a name for log lines."""
    if spec.command == "serve":
        from ..cli.serve import build_demo

        app, sio = build_demo(args)
        return app, [sio], "the demo"
    from ..cli.run import import_target, resolve_target

    module, obj = import_target(args.target, args.app_dir)
    app, servers = await resolve_target(obj, module, args.socketio_path)
    if getattr(args, "metrics", None):  # every worker serves every worker's metrics (docs/metrics.md)
        from ..cli.metrics import add_metrics

        app = add_metrics(app, servers, args.metrics)
    return app, list(servers), args.target


async def _watch_parent(parent: int, stop: asyncio.Event) -> None:
    while os.getppid() == parent:
        await asyncio.sleep(1.0)
    logger.error("the supervisor is gone: stopping")
    stop.set()


async def serve_worker(spec: WorkerSpec) -> None:
    """Build and serve the app as worker ``spec.id`` until told to stop."""
    from ..cli.runner import serve_app
    from ..engine.options import set_default_sid_prefix
    from ..transport import server as transport
    from .drain import Leaving, drain
    from .handover import HandOverServer
    from .idle import WatchedRunner
    from .install import find_servers, install_cluster
    from .routing import HandOff, MovedFilter, worker_tag

    args = argparse.Namespace(**spec.args)
    tag = worker_tag(spec.id)
    set_default_sid_prefix(tag)
    hand_off = HandOff(spec.runtime_dir, spec.id)
    transport.hand_off = hand_off
    leaving = Leaving(spec.runtime_dir, spec.id, tag, hand_off)
    stop = asyncio.Event()
    app, servers, _name = await _build(spec, args)
    servers = find_servers(app, servers)
    install_cluster(servers, hub_path=spec.hub_path, redis_url=spec.redis_url, on_lost=stop.set)
    app.middlewares.insert(0, leaving.middleware)

    def retire() -> None:
        leaving.begin("retiring")
        stop.set()

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(RETIRE_SIGNAL, retire)

    async def drained(runner: web.AppRunner, site: web.BaseSite) -> None:
        await drain(runner, site, servers=servers, leaving=leaving, timeout=float(args.shutdown_timeout))
        # No more hand-offs or relays to this worker (its sessions are over); those already sent
        # are taken and answered during aiohttp's shutdown.
        with contextlib.suppress(OSError):
            os.unlink(spec.unix_path)
        if handover is not None:
            await handover.close()

    sock = socket.socket(fileno=spec.fd)
    sock.setblocking(False)
    watcher = asyncio.ensure_future(_watch_parent(os.getppid(), stop))

    handover: HandOverServer | None = None

    async def started(runner: web.AppRunner) -> None:
        nonlocal handover
        factory = runner.server
        assert factory is not None  # set up before the sites start
        handover = HandOverServer(spec.handover_path, factory)
        await handover.start()

    def ready(_url: str) -> None:
        with contextlib.suppress(OSError):
            os.write(spec.ready_fd, b"ready\n")
            os.close(spec.ready_fd)

    try:
        await serve_app(
            app,
            host=args.host,
            port=args.port,
            announce=ready,
            servers=servers,
            shutdown_timeout=args.shutdown_timeout,
            access_log=args.access_log,
            sock=sock,
            unix_path=spec.unix_path,
            stop=stop,
            started=started,
            access_log_class=MovedFilter,
            drain=drained,
            runner_class=WatchedRunner,
        )
    finally:
        # Until the process exits, a late SIGUSR1 or SIGTERM/SIGINT (its default would kill it)
        # must not cut the hand-overs still queued short: the worker is stopping anyway.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            for sig in (RETIRE_SIGNAL, signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, _ignored, sig)
        leaving.end()
        watcher.cancel()
        if handover is not None:
            await handover.close()
        await hand_off.close()
        with contextlib.suppress(OSError):
            os.unlink(spec.unix_path)


def _ignored(sig: int) -> None:
    logger.debug("signal %d while stopping: ignored", sig)


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m aiosio.workers.worker SPEC_JSON``.

    A worker ignores SIGHUP: it shares its supervisor's process group, and a hang-up of the
    terminal (or ``kill -HUP -PGID``) is the supervisor's to handle (a rolling restart)."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    from ..cli.runner import ServeError, run_with_loop

    argv = sys.argv[1:] if argv is None else argv
    spec = WorkerSpec.loads(argv[0])
    level = str(spec.args.get("log_level", "info")).upper()
    logging.basicConfig(
        level=getattr(logging, level),
        format=f"%(asctime)s %(levelname)-7s [w{spec.id}] %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    try:
        run_with_loop(serve_worker(spec), str(spec.args.get("loop", "auto")))
    except ServeError as exc:
        print(f"aiosio worker {spec.id}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

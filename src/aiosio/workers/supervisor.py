"""The supervisor of ``aiosio run --workers N`` / ``aiosio serve --workers N``.

It binds the listening socket once and starts N worker processes
(``python -m aiosio.workers.worker``) that inherit it, so the kernel spreads the connections
among them; no sticky sessions are needed, since a request that reaches the wrong worker is handed
to its owner (:mod:`~aiosio.workers.routing`). It also runs the hub through which the workers form
one Socket.IO cluster (:mod:`~aiosio.workers.hub`).

* A worker that dies is restarted (after 0.1 s, doubling up to 10 s while restarts keep failing
  quickly), with a log line; the other workers and their clients are not touched.
* SIGINT/SIGTERM: every worker gets SIGTERM and shuts down gracefully (its clients get a clean
  close); one that overstays ``--shutdown-timeout`` + 5 s (at least 10 s) is killed.
* SIGHUP: a rolling restart, one worker at a time: the replacement starts on the same socket and
  once it is ready the old one retires (``SIGUSR1``: it stops accepting, and its clients are told
  and moved on, :mod:`~aiosio.workers.drain`). The app is imported afresh, so this deploys
  new code with no moment without a worker accepting connections.

Each worker gets a new id when it starts (ids are never reused), and its sessions carry it: a
session of a worker that is gone is answered as unknown, never by a new worker with the same id.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cli.runner import ServeError, configure_logging, format_url
from .hub import Hub
from .worker import RETIRE_SIGNAL, WorkerSpec

__all__ = ["Supervisor", "run_supervisor"]

logger = logging.getLogger("aiosio.workers")

#: How long a new worker may take to import the app and start serving.
READY_TIMEOUT = 60.0
#: A worker that lived this long before dying is restarted at once (the backoff starts over).
HEALTHY_AFTER = 10.0
MAX_BACKOFF = 10.0


@dataclass(eq=False)
class _Worker:
    id: int
    slot: int
    proc: asyncio.subprocess.Process
    started: float = field(default_factory=time.monotonic)
    #: Being replaced or stopped on purpose: its exit is not a crash.
    retiring: bool = False


class Supervisor:
    """Runs ``count`` workers of ``command`` (``"run"`` or ``"serve"``) with the CLI's ``args``.

    ``announce`` gets the URL once every worker is ready.
    """

    def __init__(self, args: argparse.Namespace, command: str, announce: Callable[[str], None]) -> None:
        self.args = args
        self.command = command
        self.announce = announce
        self.count = args.workers or os.cpu_count() or 1
        self.redis_url: str | None = getattr(args, "redis", None)
        self.shutdown_timeout = float(args.shutdown_timeout)
        self._ids = itertools.count()
        self._slots: dict[int, _Worker] = {}
        self._live: set[_Worker] = set()
        self._failures: dict[int, int] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stop = asyncio.Event()
        self._stopping = False
        self._rolling = False
        #: A SIGHUP came during a rolling restart: one more follows it.
        self._roll_again = False
        self._sock: socket.socket | None = None
        self._runtime = ""
        self._hub: Hub | None = None

    # -- the whole run -------------------------------------------------------------------------

    async def run(self) -> int:
        """Start everything, serve until SIGINT/SIGTERM, stop everything; the exit status."""
        self._sock = sock = self._bind()
        self._runtime = tempfile.mkdtemp(prefix="aiosio-workers-")
        self._hub = Hub(str(Path(self._runtime) / "hub.sock"))
        loop = asyncio.get_running_loop()
        try:
            await self._hub.start()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._stop.set)
            loop.add_signal_handler(signal.SIGHUP, self._spawn_task, self._roll)
            started = await asyncio.gather(
                *(self._start(slot) for slot in range(self.count)), return_exceptions=True
            )
            errors = [r for r in started if isinstance(r, BaseException)]
            if errors:
                raise errors[0]
            host, port = sock.getsockname()[:2]
            bind_host = self.args.host
            self.announce(format_url(bind_host if bind_host in ("0.0.0.0", "::", "") else host, port))
            logger.info("%d workers ready (SIGHUP replaces them one at a time)", self.count)
            await self._stop.wait()
            logger.info("shutting down")
        finally:
            self._stopping = True
            # The handlers stay until the end: a SIGHUP (a reload) while stopping is ignored, a
            # second SIGINT/SIGTERM kills the workers at once; the cleanup below runs either way.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, self._kill_all)
                loop.add_signal_handler(signal.SIGHUP, logger.info, "SIGHUP while stopping: ignored")
            try:
                for task in list(self._tasks):
                    task.cancel()
                await self._stop_all()
                await self._hub.close()
                sock.close()
                shutil.rmtree(self._runtime, ignore_errors=True)
            finally:
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                    loop.remove_signal_handler(sig)
        return 0

    def _kill_all(self) -> None:
        """A second SIGINT/SIGTERM while stopping: kill every worker now."""
        logger.warning("stopping: signal received again, killing the workers")
        for worker in list(self._live | set(self._slots.values())):
            if worker.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.proc.kill()

    def _bind(self) -> socket.socket:
        host, port = self.args.host, self.args.port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            sock = socket.create_server((host, port), family=family, backlog=1024)
        except OSError as exc:
            raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        sock.set_inheritable(True)
        return sock

    def _spawn_task(self, make: Callable[[], Any]) -> None:
        task = asyncio.ensure_future(make())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- one worker ----------------------------------------------------------------------------

    def _spec(self, worker_id: int, ready_fd: int) -> WorkerSpec:
        assert self._sock is not None and self._hub is not None
        args = {k: v for k, v in vars(self.args).items() if k != "func"}
        return WorkerSpec(
            id=worker_id,
            fd=self._sock.fileno(),
            ready_fd=ready_fd,
            runtime_dir=self._runtime,
            hub_path=self._hub.path,
            command=self.command,
            args=args,
            redis_url=self.redis_url,
        )

    async def _spawn(self, slot: int) -> _Worker:
        """Start a worker and wait until it serves; ServeError if it does not get there."""
        assert self._sock is not None
        worker_id = next(self._ids)
        read_fd, write_fd = os.pipe()
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "aiosio.workers.worker",
                self._spec(worker_id, write_fd).dumps(),
                pass_fds=(self._sock.fileno(), write_fd),
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        worker = _Worker(worker_id, slot, proc)
        self._live.add(worker)
        self._spawn_task(lambda: self._monitor(worker))
        if not await self._ready(read_fd, worker):
            worker.retiring = True
            await self._terminate(worker, kill=True)
            raise ServeError(f"worker {worker_id} did not start (exit status {proc.returncode})")
        logger.info("worker %d (pid %d) serving", worker_id, proc.pid)
        return worker

    async def _ready(self, read_fd: int, worker: _Worker) -> bool:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        pipe = os.fdopen(read_fd, "rb", buffering=0)
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                return await reader.readline() == b"ready\n"
        except TimeoutError:
            logger.error("worker %d not ready within %.0f s", worker.id, READY_TIMEOUT)
            return False
        finally:
            transport.close()

    async def _start(self, slot: int, replaces: _Worker | None = None) -> _Worker:
        """Start the worker of ``slot`` in place of ``replaces`` (None: the slot's first). If the
        slot was filled meanwhile (a rolling restart and a crash restart raced), the new worker
        retires at once: one worker per slot, every one tracked."""
        worker = await self._spawn(slot)
        current = self._slots.get(slot)
        if current is not replaces and current is not None:
            logger.info("worker %d not needed (worker %d took its place): retiring it", worker.id, current.id)
            self._retire(worker)
            return current
        self._slots[slot] = worker
        return worker

    def _retire(self, worker: _Worker) -> None:
        worker.retiring = True
        self._spawn_task(lambda: self._terminate(worker, sig=RETIRE_SIGNAL))

    async def _monitor(self, worker: _Worker) -> None:
        code = await worker.proc.wait()
        self._live.discard(worker)
        for suffix in ("sock", "fd"):  # left behind by a worker that was killed
            with contextlib.suppress(OSError):
                os.unlink(Path(self._runtime) / f"w{worker.id}.{suffix}")
        if self._stopping or worker.retiring or self._slots.get(worker.slot) is not worker:
            return
        lived = time.monotonic() - worker.started
        failures = 0 if lived >= HEALTHY_AFTER else self._failures.get(worker.slot, 0) + 1
        self._failures[worker.slot] = failures
        delay = min(MAX_BACKOFF, 0.1 * 2 ** max(0, failures - 1)) if failures else 0.0
        logger.warning(
            "worker %d (pid %d) exited with status %s; restarting it in %.1f s",
            worker.id,
            worker.proc.pid,
            code,
            delay,
        )
        self._spawn_task(lambda: self._restart(worker.slot, delay, worker))

    async def _restart(self, slot: int, delay: float, dead: _Worker) -> None:
        """Start a worker in place of ``dead``, retrying with a backoff until one serves."""
        while not self._stopping:
            await asyncio.sleep(delay)
            if self._stopping or self._slots.get(slot) is not dead:
                return  # stopping, or a rolling restart replaced it meanwhile
            try:
                await self._start(slot, dead)
                return
            except Exception as exc:  # ServeError, or OSError (no fds, no processes left)
                failures = self._failures.get(slot, 0) + 1
                self._failures[slot] = failures
                delay = min(MAX_BACKOFF, 0.1 * 2**failures)
                logger.error("%s; trying again in %.1f s", exc, delay)

    async def _terminate(self, worker: _Worker, kill: bool = False, sig: int = signal.SIGTERM) -> None:
        proc = worker.proc
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGKILL if kill else sig)
        try:
            # The worker's drain and its aiohttp shutdown share --shutdown-timeout; closing the
            # sessions (up to 5 s) and the app's on_shutdown (the cluster links) may add a little.
            async with asyncio.timeout(max(self.shutdown_timeout, 5.0) + 5.0):
                await proc.wait()
        except TimeoutError:
            logger.warning("worker %d did not stop in time: killing it", worker.id)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

    async def _stop_all(self) -> None:
        workers = list(self._live | set(self._slots.values()))
        for worker in workers:
            worker.retiring = True
        await asyncio.gather(*(self._terminate(w) for w in workers), return_exceptions=True)

    # -- SIGHUP ---------------------------------------------------------------------------------

    async def _roll(self) -> None:
        """Replace every worker, one at a time."""
        if self._rolling:
            logger.info("SIGHUP: another rolling restart follows the one running")
            self._roll_again = True
            return
        self._rolling = True
        try:
            again = True
            while again and not self._stopping:
                self._roll_again = False
                await self._roll_once()
                again = self._roll_again
        finally:
            self._rolling = False

    async def _roll_once(self) -> None:
        logger.info("SIGHUP: replacing the workers one at a time")
        for slot in range(self.count):
            if self._stopping:
                return
            old = self._slots.get(slot)
            try:
                new = await self._spawn(slot)
            except Exception as exc:  # ServeError, or OSError (no fds, no processes left)
                logger.error("rolling restart stopped, the old workers keep serving: %s", exc)
                return
            if self._slots.get(slot) is not old:
                # The old one died and was restarted meanwhile (with the new code too).
                current = self._slots[slot]
                logger.info(
                    "worker %d not needed (worker %d took its place): retiring it", new.id, current.id
                )
                self._retire(new)
                continue
            if old is not None:
                old.retiring = True
            self._slots[slot] = new
            if old is not None:
                await self._terminate(old, sig=RETIRE_SIGNAL)
                logger.info("worker %d replaced by worker %d", old.id, new.id)


def run_supervisor(args: argparse.Namespace, command: str, announce: Callable[[str], None], prog: str) -> int:
    """Run ``command`` with ``args.workers`` workers until SIGINT/SIGTERM; the exit status."""
    configure_logging(args.log_level)
    try:
        return asyncio.run(Supervisor(args, command, announce).run())
    except ServeError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1

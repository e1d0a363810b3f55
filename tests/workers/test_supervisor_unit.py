"""The supervisor's bookkeeping with fake worker processes (no app is imported): races between a
rolling restart and a crash restart, a failing spawn, SIGHUP during a roll, signals while stopping."""

from __future__ import annotations

import argparse
import asyncio
import errno
import itertools
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from aiosio.workers import supervisor as sup_mod

pytestmark = pytest.mark.timeout(30)


class FakeProc:
    """Stands for an ``asyncio.subprocess.Process``; ``obedient=False`` ignores all but SIGKILL."""

    pids = itertools.count(100000)

    def __init__(self, obedient: bool = True) -> None:
        self.pid = next(self.pids)
        self.returncode: int | None = None
        self.obedient = obedient
        self._done = asyncio.Event()

    async def wait(self) -> int:
        await self._done.wait()
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.obedient or sig == signal.SIGKILL:
            self.exit(-sig)

    def kill(self) -> None:
        self.exit(-signal.SIGKILL)

    def exit(self, code: int) -> None:
        if self.returncode is None:
            self.returncode = code
            self._done.set()


def _supervisor(workers: int = 1, shutdown_timeout: float = 1) -> sup_mod.Supervisor:
    args = argparse.Namespace(
        workers=workers, redis=None, shutdown_timeout=shutdown_timeout, host="127.0.0.1", port=0
    )
    return sup_mod.Supervisor(args, "run", lambda url: None)


def _fake_spawn(
    sup: sup_mod.Supervisor, *, delay: float = 0.0, fail: frozenset[int] = frozenset(), **kw: Any
) -> list[sup_mod._Worker]:
    spawned: list[sup_mod._Worker] = []
    calls = itertools.count(1)

    async def spawn(slot: int) -> sup_mod._Worker:
        if next(calls) in fail:
            raise OSError(errno.EMFILE, "Too many open files")
        worker = sup_mod._Worker(next(sup._ids), slot, FakeProc(**kw))  # type: ignore[arg-type]
        worker.started -= 60  # long-lived: restarted at once if it dies
        sup._live.add(worker)
        sup._spawn_task(lambda: sup._monitor(worker))
        await asyncio.sleep(delay)  # importing the app
        spawned.append(worker)
        return worker

    sup._spawn = spawn  # type: ignore[method-assign]
    return spawned


def _alive(sup: sup_mod.Supervisor) -> list[sup_mod._Worker]:
    return [w for w in sup._live if w.proc.returncode is None and not w.retiring]


async def _settle(sup: sup_mod.Supervisor, seconds: float = 0.3) -> None:
    await asyncio.sleep(seconds)


async def _stop(sup: sup_mod.Supervisor) -> None:
    sup._stopping = True
    for task in list(sup._tasks):
        task.cancel()
    await sup._stop_all()


async def test_roll_racing_a_crash_restart_leaves_one_tracked_worker() -> None:
    sup = _supervisor()
    _fake_spawn(sup, delay=0.3)
    await sup._start(0)
    first = sup._slots[0]
    roll = asyncio.ensure_future(sup._roll())  # SIGHUP: replacing it ...
    await asyncio.sleep(0.1)
    first.proc.exit(1)  # ... and it crashes meanwhile: restarted at once too
    await roll
    await _settle(sup, 0.6)
    alive = _alive(sup)
    assert len(alive) == 1 and alive[0] is sup._slots[0]
    await _stop(sup)


async def test_sighup_during_initial_start_leaves_one_tracked_worker() -> None:
    sup = _supervisor()
    _fake_spawn(sup, delay=0.3)
    start = asyncio.ensure_future(sup._start(0))
    await asyncio.sleep(0.05)
    await sup._roll()  # SIGHUP before the first worker was ready
    await start
    await _settle(sup)
    alive = _alive(sup)
    assert len(alive) == 1 and alive[0] is sup._slots[0]
    await _stop(sup)


@pytest.mark.allow_server_errors("Too many open files")
async def test_a_restart_that_fails_with_oserror_is_retried() -> None:
    sup = _supervisor()
    spawned = _fake_spawn(sup, fail=frozenset({2}))  # the first restart cannot even fork
    await sup._start(0)
    sup._slots[0].proc.exit(1)
    await _settle(sup, 0.8)
    assert len(spawned) == 2
    assert len(_alive(sup)) == 1 and _alive(sup)[0] is sup._slots[0]
    await _stop(sup)


@pytest.mark.allow_server_errors("Too many open files")
async def test_a_roll_that_fails_with_oserror_keeps_the_old_workers() -> None:
    sup = _supervisor()
    _fake_spawn(sup, fail=frozenset({2}))
    old = await sup._start(0)
    await sup._roll()  # no exception escapes the task
    assert sup._slots[0] is old and not old.retiring
    await _stop(sup)


async def test_sighup_during_a_roll_rolls_again_afterwards() -> None:
    sup = _supervisor(workers=2)
    spawned = _fake_spawn(sup, delay=0.1)
    await asyncio.gather(sup._start(0), sup._start(1))
    roll = asyncio.ensure_future(sup._roll())
    await asyncio.sleep(0.05)
    await sup._roll()  # a second SIGHUP while the first roll runs: not dropped
    await roll
    assert len(spawned) == 2 + 2 * 2
    assert {w.id for w in _alive(sup)} == {w.id for w in sup._slots.values()} == {w.id for w in spawned[-2:]}
    await _stop(sup)


async def test_signals_while_stopping_do_not_cut_the_cleanup_short() -> None:
    """SIGTERM starts the stop; a SIGHUP meanwhile is ignored (its default would kill the
    supervisor, orphaning the workers); a second SIGTERM kills the workers and the cleanup runs."""
    sup = _supervisor(workers=2, shutdown_timeout=30)
    _fake_spawn(sup, obedient=False)  # workers that take long to stop
    run = asyncio.ensure_future(sup.run())
    while len(sup._slots) < 2:
        await asyncio.sleep(0.02)
    runtime = Path(sup._runtime)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.sleep(0.3)
    assert not run.done()
    os.kill(os.getpid(), signal.SIGHUP)
    await asyncio.sleep(0.3)
    assert not run.done()
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(run, 5) == 0
    assert not _alive(sup) and all(w.proc.returncode == -signal.SIGKILL for w in sup._slots.values())
    assert not await asyncio.to_thread(runtime.exists)

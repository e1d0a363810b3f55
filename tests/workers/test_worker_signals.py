"""A worker of ``--workers`` ignores SIGHUP (it shares the supervisor's process group: a terminal's
hang-up or ``kill -HUP -PGID`` is the supervisor's rolling restart, not the workers' death)."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
from test_workers import Start, _running, worker_pids, workers_cmd

pytestmark = pytest.mark.timeout(60)


async def test_sighup_to_a_worker_does_not_kill_it(start: Start) -> None:
    server = start(workers_cmd(2))
    pids = worker_pids(server)
    assert len(pids) == 2
    for pid in pids:
        os.kill(pid, signal.SIGHUP)
    await asyncio.sleep(1.0)
    assert all(_running(pid) for pid in pids)
    assert worker_pids(server) == pids
    assert "restarting" not in server.output()

"""``aiosio serve --workers 2``: one price ticker for the whole cluster, taken over when it dies.

Real supervisor and worker processes (the ``start`` fixture), aiosio's own client as the peer,
WebSocket clients spread over both workers (their Engine.IO sid says which worker has them).
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import aiosio
from processes import ServerProcess

pytestmark = pytest.mark.timeout(90)


class Watcher:
    """One client in the prices room: the ticks it got (seq, arrival time), the stats it got."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sio = aiosio.AsyncClient(reconnection_delay=0.1, reconnection_delay_max=0.5)
        self.ticks: list[tuple[int, float]] = []
        self.stats: list[dict[str, Any]] = []
        self.workers: list[str] = []
        self.sio.on("connect", self._connected)
        self.sio.on("tick", lambda data: self.ticks.append((data["seq"], time.monotonic())))
        self.sio.on("stats", self.stats.append)

    async def _connected(self) -> None:
        self.workers.append(str(self.sio.eio.sid).split(".")[0])
        await self.sio.emit("join_prices")

    async def start(self) -> None:
        await self.sio.connect(self.url, transports=["websocket"])

    def seqs(self, since: float = 0.0) -> list[int]:
        return [seq for seq, at in self.ticks if at >= since]


async def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _worker_pid(server: ServerProcess, tag: str) -> int:
    import re

    match = re.search(rf"worker {tag[1:]} \(pid (\d+)\) serving", server.output())
    assert match, server.output()
    return int(match.group(1))


async def test_one_ticker_per_cluster_and_takeover(
    db_path: Path, aiosio_server: Callable[[list[str]], ServerProcess]
) -> None:
    """8 watchers on 2 workers: every tick number arrives once, at one ticker's pace (5 a second,
    not 10), the same sequence for everyone; the stats count the whole cluster's 8 clients. Each
    worker is then killed in turn (so the leader dies at least once): the ticks go on within a few
    seconds, their numbers carrying on from the last ones (never starting over, never twice)."""
    server = aiosio_server(
        [
            "serve",
            "--port",
            "0",
            "--db",
            str(db_path),
            "--workers",
            "2",
            "--no-access-log",
            "--shutdown-timeout",
            "2",
        ]
    )
    watchers = [Watcher(server.url) for _ in range(8)]
    try:
        for w in watchers:
            await w.start()
        spread = collections.Counter(w.workers[0] for w in watchers)
        assert len(spread) == 2, spread  # both workers have watchers
        await _until(lambda: all(len(w.ticks) >= 3 for w in watchers), 10, "the first ticks")
        start = time.monotonic()
        await asyncio.sleep(3)
        window = [w.seqs(start) for w in watchers]
        for seqs in window:
            assert seqs == sorted(set(seqs)), seqs  # once each, in order: one ticker
            assert 10 <= len(seqs) <= 18, seqs  # 3 s at 5 a second (two tickers: ~30)
        await _until(
            lambda: all(w.stats and w.stats[-1]["clients"] == 8 for w in watchers), 5, "cluster stats"
        )
        assert watchers[0].stats[-1]["watchers"] == 8

        for tag in sorted(spread):
            victim = _worker_pid(server, tag)
            last = max(max(w.seqs()) for w in watchers)
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()

            def ticking(since: float = killed_at + 0.5) -> bool:
                return all(w.sio.connected and len(w.seqs(since)) >= 3 for w in watchers)

            await _until(
                ticking,
                20,
                f"ticks after worker {tag} died",
            )
            for w in watchers:
                after = [s for s in w.seqs() if s > last]
                assert after == sorted(set(after)), after
                assert w.seqs(killed_at + 0.5)[0] > last, (
                    tag,
                    last,
                    w.workers,
                    [(s, round(t - killed_at, 2)) for s, t in w.ticks[-30:]],
                )  # carried on, not from 1
    finally:
        for w in watchers:
            await w.sio.disconnect()

"""The demo's ticker lease (one leader per cluster) over an in-process stand-in for the cluster's
server_side_call / server_side_emit (the real thing is in test_demo_ticker_cluster.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiosio.adapters.base import Answers
from aiosio.demo.lease import FORGET_AFTER, Lease, Peer


class Bus:
    """The cluster: every server's handlers; ``mute`` servers do not answer calls (too slow)."""

    def __init__(self) -> None:
        self.servers: list[FakeServer] = []
        self.mute: set[FakeServer] = set()


class FakeServer:
    """What a Lease uses of an AsyncServer."""

    _adapter_ready = True

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.handlers: dict[str, Any] = {}
        bus.servers.append(self)

    def on_server_event(self, event: str, handler: Any) -> None:
        self.handlers[event] = handler

    async def server_side_call(self, event: str, data: Any, timeout: float | None = None) -> Answers[Any]:
        answers, missing = [], 0
        for server in self.bus.servers:
            if server is self or event not in server.handlers:
                continue
            if server in self.bus.mute:
                missing += 1
                continue
            answer = await server.handlers[event](data)
            if answer is not None:
                answers.append(answer)
        return Answers(answers, missing)

    async def server_side_emit(self, event: str, data: Any) -> None:
        for server in self.bus.servers:
            if server is not self and event in server.handlers:
                await server.handlers[event](data)


def _lease(bus: Bus) -> tuple[Lease, FakeServer]:
    server = FakeServer(bus)
    lease = Lease(server, 1.0)  # type: ignore[arg-type]
    lease.register(lambda: Peer(lease.id, 1, 0, 0, {}), lambda: None)
    return lease, server


async def _poll(lease: Lease) -> None:
    await lease.poll(Peer(lease.id, 1, 0, 0, {}))


async def test_a_server_that_left_answers_no_more_calls() -> None:
    """After leave(), a follower's poll must not bring the old leader back (it would not tick
    for FORGET_AFTER periods while nobody does)."""
    bus = Bus()
    old, _ = _lease(bus)
    await asyncio.sleep(0.001)
    new, _ = _lease(bus)
    await _poll(old)
    await _poll(new)
    assert old.leader and not new.leader
    await old.leave()
    assert new.leader
    await _poll(new)  # the old server's adapter is not closed yet
    assert new.leader and old.id not in new.peers


async def test_a_new_server_whose_poll_goes_unanswered_does_not_lead() -> None:
    """A new server whose first polls time out (a slow hub or Redis) could be next to an older
    leader: it does not lead until a poll got every answer (or FORGET_AFTER polls in a row did not)."""
    bus = Bus()
    old, old_server = _lease(bus)
    await asyncio.sleep(0.001)
    new, _ = _lease(bus)
    bus.mute.add(old_server)  # the new server has not heard of the old one yet
    for _ in range(FORGET_AFTER - 1):
        await _poll(new)
        assert not new.leader
    await _poll(new)  # FORGET_AFTER polls unanswered: a server that never answers counts as none
    assert new.leader
    bus.mute.clear()
    await _poll(new)  # the older one answers again: it leads, not the new one
    await _poll(old)
    assert not new.leader and old.leader


class SlowServer(FakeServer):
    """A cluster whose calls take 0.4 s (a slow hub or Redis); it counts the ticks emitted."""

    def __init__(self, bus: Bus) -> None:
        super().__init__(bus)
        self.ticks: list[float] = []

    async def server_side_call(self, event: str, data: Any, timeout: float | None = None) -> Answers[Any]:
        await asyncio.sleep(0.4)
        return Answers([], 0)

    async def emit(self, event: str, data: Any, **kwargs: Any) -> None:
        if event == "tick":
            self.ticks.append(asyncio.get_running_loop().time())


async def test_a_slow_poll_does_not_hold_the_leaders_ticks() -> None:
    from aiosio.demo.ticker import PriceTicker

    server = SlowServer(Bus())
    ticker = PriceTicker(server, tick_interval=0.1, stats_interval=1.0)  # type: ignore[arg-type]
    ticker.clients.add("a")
    ticker.watchers.add("a")
    ticker.start()
    try:
        while not ticker.leading:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        before = len(server.ticks)
        await asyncio.sleep(2.0)
        ticked = len(server.ticks) - before
    finally:
        await ticker.stop()
    assert ticked >= 17  # 20 at 10 a second (a poll held inline costs 0.4 s of each second: 12)


def test_only_the_leader_sends_its_prices() -> None:
    from aiosio.demo.ticker import PriceTicker

    ticker = PriceTicker(FakeServer(Bus()))  # type: ignore[arg-type]
    assert not ticker.leading and ticker._peer().prices == {}
    ticker.lease.polls = 1  # it polled its cluster: alone, it leads
    assert ticker.leading and ticker._peer().prices == ticker.model.prices != {}

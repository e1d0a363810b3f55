"""The demo's live prices: the model, the ``prices`` room, the stats event, start-up and shutdown."""

from __future__ import annotations

import asyncio
import gc
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

import aiosio
from aiosio.demo.app import SIO_KEY, TICKER_KEY, create_app
from aiosio.demo.prices import STOCKS, PriceModel, RateMeter
from aiosio.demo.ticker import PRICES_ROOM, TICK_INTERVAL, PriceTicker
from aiosio.testing import TestServer as InProcessServer

# -- the model (no I/O) ----------------------------------------------------------------------------


def test_price_model_moves_some_symbols_and_stays_in_a_band() -> None:
    model = PriceModel(seed=7)
    assert model.snapshot() == {"symbols": list(STOCKS), "open": dict(STOCKS), "prices": dict(STOCKS)}
    moved_counts = set()
    for _ in range(20_000):
        before = dict(model.prices)
        changes = model.step()
        assert set(changes) <= set(STOCKS)
        for symbol, price in changes.items():
            assert price != before[symbol]
            assert price == round(price, 2)
        moved_counts.add(len(changes))
        # Mean reversion keeps every price within a plausible band around its opening price.
        for symbol, price in model.prices.items():
            assert abs(math.log(price / STOCKS[symbol])) < 0.25, (symbol, price)
    assert max(moved_counts) == len(STOCKS)  # sometimes all move, usually fewer
    assert min(moved_counts) <= 1


def test_price_model_is_reproducible_with_a_seed() -> None:
    a, b = PriceModel(seed=1), PriceModel(seed=1)
    assert [a.step() for _ in range(50)] == [b.step() for _ in range(50)]
    with pytest.raises(ValueError):
        PriceModel({})


def test_rate_meter() -> None:
    meter = RateMeter(now=10.0)
    meter.add()
    meter.add(9)
    assert meter.rate(now=12.0) == 5.0
    assert meter.rate(now=13.0) == 0.0  # a new period started at 12
    meter.add(3)
    assert meter.rate(now=13.0) == 0.0  # no time elapsed: no rate, not a division by zero


# -- over Socket.IO --------------------------------------------------------------------------------


class Watcher:
    """An aiosio client that queues ``tick`` and ``stats`` events."""

    def __init__(self) -> None:
        self.client = aiosio.AsyncClient(reconnection=False)
        self.ticks: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.stats: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.client.on("tick", self.ticks.put_nowait)
        self.client.on("stats", self.stats.put_nowait)

    async def call(self, event: str) -> Any:
        return await self.client.call(event, timeout=5)

    async def next_tick(self, timeout: float = 5.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.ticks.get(), timeout)

    async def stats_where(self, check: Any, timeout: float = 8.0) -> dict[str, Any]:
        """The first stats event for which ``check(stats)`` is true."""

        async def find() -> dict[str, Any]:
            while True:
                stats = await self.stats.get()
                if check(stats):
                    return stats

        return await asyncio.wait_for(find(), timeout)


@asynccontextmanager
async def watcher(server: TestServer) -> AsyncIterator[Watcher]:
    w = Watcher()
    await w.client.connect(str(server.make_url("")).rstrip("/"), transports=["websocket"])
    try:
        yield w
    finally:
        await w.client.disconnect()


def ticker_of(server: TestServer) -> PriceTicker:
    return server.app[TICKER_KEY]


async def test_join_receive_ticks_leave_and_stop_receiving(demo_server: TestServer) -> None:
    async with watcher(demo_server) as w, watcher(demo_server) as stayer:
        await stayer.call("join_prices")  # keeps the ticks flowing after `w` leaves
        ack = await w.call("join_prices")
        assert ack["ok"] is True and ack["room"] == PRICES_ROOM
        assert ack["symbols"] == list(STOCKS) and set(ack["prices"]) == set(STOCKS)
        assert ack["open"] == dict(STOCKS)

        first = await w.next_tick()
        second = await w.next_tick()
        assert second["seq"] > first["seq"]
        assert isinstance(first["ts"], int)
        for tick in (first, second):
            assert tick["prices"] and set(tick["prices"]) <= set(STOCKS)
            assert all(isinstance(p, float) and p > 0 for p in tick["prices"].values())

        assert (await w.call("leave_prices")) == {"ok": True, "room": PRICES_ROOM}
        # A tick sent before the leave arrives before its ack (one connection, in order): drop
        # those, then nothing more comes for several tick intervals.
        while not w.ticks.empty():
            w.ticks.get_nowait()
        while not stayer.ticks.empty():
            stayer.ticks.get_nowait()
        for _ in range(4):
            await stayer.next_tick()
        assert w.ticks.empty()
        assert ticker_of(demo_server).watchers == {stayer.client.get_sid()}

        # And joining again resumes them.
        assert (await w.call("join_prices"))["ok"] is True
        await w.next_tick()


async def test_ticks_go_to_the_room_only(db_path: Path) -> None:
    # Only the Socket.IO layer matters here: the app runs in-process (aiosio.testing), its startup
    # (which starts the ticker) and shutdown included, with no port.
    app = create_app(db_path)
    sio = app[SIO_KEY]
    assert isinstance(sio, aiosio.AsyncServer)
    async with InProcessServer(sio, app) as server:
        inside, outside = await server.connect(), await server.connect()
        await inside.call("join_prices")
        for _ in range(3):
            await inside.receive("tick")
        assert [r for r in outside.received if r.event == "tick"] == []


async def test_stats_count_clients_watchers_and_rates(demo_server: TestServer) -> None:
    async with watcher(demo_server) as a, watcher(demo_server) as b:
        await a.call("join_prices")
        # Two clients connected, one in the room, ticks flowing: about 5 ticks/s, each to 1 client.
        await a.stats_where(lambda s: s["watchers"] == 1)
        stats = await a.stats_where(lambda s: s["watchers"] == 1)  # a whole period in the room
        assert set(stats) == {"clients", "watchers", "ticks_per_sec", "msgs_per_sec"}
        assert stats["clients"] == 2
        assert 1 <= stats["ticks_per_sec"] <= 1 / TICK_INTERVAL + 0.5  # 5/s, fewer on a busy machine
        assert stats["msgs_per_sec"] == pytest.approx(stats["ticks_per_sec"], abs=0.5)
        # Stats go to everyone connected, in the room or not.
        assert (await b.stats_where(lambda s: s["watchers"] == 1))["clients"] == 2

        await b.call("join_prices")
        # The first stats after the join may cover ticks to one watcher; the next one is a whole
        # period with two, so each tick is two messages.
        await a.stats_where(lambda s: s["watchers"] == 2)
        stats = await a.stats_where(lambda s: s["watchers"] == 2)
        assert stats["ticks_per_sec"] > 0
        assert stats["msgs_per_sec"] == pytest.approx(2 * stats["ticks_per_sec"], abs=0.5)

    # Nobody connected any more: the ticker forgot them all.
    ticker = ticker_of(demo_server)
    for _ in range(100):
        if not ticker.clients:
            break
        await asyncio.sleep(0.05)
    assert ticker.clients == set() and ticker.watchers == set()


async def test_idle_ticker_sends_nothing(demo_server: TestServer) -> None:
    ticker = ticker_of(demo_server)
    stats_sent = 0
    original = ticker._stats

    async def counting_stats(*args: Any) -> None:
        nonlocal stats_sent
        stats_sent += 1
        await original(*args)

    ticker._stats = counting_stats  # type: ignore[method-assign]
    assert ticker.running  # it started with the application
    await asyncio.sleep(1.5)
    assert (ticker.ticks, stats_sent) == (0, 0)  # nobody connected: nothing at all

    async with watcher(demo_server) as w:
        await w.stats_where(lambda s: True)
        await asyncio.sleep(0.6)
        assert ticker.ticks == 0  # connected but not in the room: stats only, no ticks
        assert stats_sent >= 1
        await w.call("join_prices")
        first, second = await w.next_tick(), await w.next_tick()
        assert ticker.ticks >= 1
        # The time spent with an empty room is not made up for with a burst of ticks: the one
        # after the first comes a whole interval later (server timestamps, so no delivery jitter).
        assert second["ts"] - first["ts"] >= TICK_INTERVAL * 1000 * 0.9


async def test_ticker_starts_with_the_app_and_stops_cleanly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = create_app(tmp_path / "todos.sqlite3")
    ticker = app[TICKER_KEY]
    assert not ticker.running  # built, not started
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        assert ticker.running
        w = Watcher()
        await w.client.connect(str(server.make_url("")).rstrip("/"), transports=["websocket"])
        await w.call("join_prices")
        await w.next_tick()
    finally:
        await server.close()
    # The shutdown stopped the task (before the Socket.IO server closed the connections).
    assert not ticker.running
    assert ticker._task is None
    await w.client.disconnect()
    gc.collect()
    await asyncio.sleep(0)
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not problems, [r.getMessage() for r in problems]

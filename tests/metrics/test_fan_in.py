"""The ``--workers`` fan-in of /metrics, against real peer workers' endpoints on Unix sockets: an
app's own prometheus_client metrics merge into one valid exposition; a dead or slow peer is
``aiosio_metrics_worker_up 0`` and costs at most its timeout, which follows the scraper's."""

from __future__ import annotations

import asyncio
import collections
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

import aiosio
import aiosio.metrics
from aiosio.metrics import _http
from aiosio.transport import server as transport

pytestmark = pytest.mark.timeout(30)


def app_registry(worker: str) -> CollectorRegistry:
    """A worker's registry: an instrumented server and the app's own Counter and Histogram."""
    registry = CollectorRegistry()
    aiosio.metrics.instrument(aiosio.AsyncServer(), registry)
    Counter("app_requests", "Requests.", registry=registry).inc(int(worker) + 1)
    Histogram("app_latency_seconds", "Latency.", registry=registry).observe(0.2)
    return registry


Peer = Callable[[str, Callable[[web.Request], Awaitable[web.StreamResponse]]], Awaitable[None]]


@pytest.fixture
async def peers(tmp_path: Path) -> AsyncIterator[Peer]:
    """``await peer("w1.sock", handler)`` serves ``handler`` on that Unix socket of ``tmp_path``."""
    runners: list[web.AppRunner] = []

    async def peer(name: str, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> None:
        app = web.Application()
        app.router.add_get("/metrics", handler)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        await web.UnixSite(runner, str(tmp_path / name)).start()
        runners.append(runner)

    yield peer
    for runner in runners:
        await runner.cleanup()


def answering(registry: CollectorRegistry) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        assert request.headers.get(_http.LOCAL_HEADER) == "worker"  # peers answer for themselves
        return web.Response(body=generate_latest(registry), content_type="text/plain")

    return handle


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(10)
    return web.Response(text="")


def dead_socket(path: Path) -> None:
    """A worker's socket file nobody listens on any more (a killed worker's)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.close()


def check_exposition(text: str) -> dict[str, list[Any]]:
    """The text is one valid exposition: one TYPE line per family, each family's samples together."""
    types = collections.Counter(line for line in text.splitlines() if line.startswith("# TYPE"))
    assert [line for line, n in types.items() if n > 1] == []
    seen: list[str] = []
    for line in text.splitlines():
        if line.startswith("# TYPE"):
            seen.append(line.split()[2])
    assert len(seen) == len(set(seen))
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


async def test_app_metrics_of_every_worker_merge_into_one_valid_exposition(
    tmp_path: Path, peers: Peer
) -> None:
    await peers("w1.sock", answering(app_registry("1")))
    await peers("w2.sock", slow)
    dead_socket(tmp_path / "w3.sock")
    hand_off = SimpleNamespace(own_id=0, runtime_dir=str(tmp_path))
    started = time.monotonic()
    body = await _http.gather_workers(app_registry("0"), hand_off, "/metrics", timeout=0.5)
    assert time.monotonic() - started < 3.0  # the slow peer costs its timeout, not 10 s
    families = check_exposition(body.decode())
    requests = {s.labels["worker"]: s.value for s in families["app_requests"] if s.name.endswith("_total")}
    assert requests == {"0": 1.0, "1": 2.0}
    created = {s.labels["worker"] for s in families["app_requests_created"]}
    assert created == {"0", "1"}
    assert {s.labels["worker"] for s in families["app_latency_seconds"]} == {"0", "1"}
    up = {s.labels["worker"]: s.value for s in families["aiosio_metrics_worker_up"]}
    assert up == {"0": 1.0, "1": 1.0, "2": 0.0, "3": 0.0}


async def test_a_peer_answering_junk_is_down_not_a_failed_scrape(tmp_path: Path, peers: Peer) -> None:
    async def junk(request: web.Request) -> web.Response:
        return web.Response(text='a{b="\n')

    await peers("w1.sock", junk)
    hand_off = SimpleNamespace(own_id=0, runtime_dir=str(tmp_path))
    families = check_exposition(
        (await _http.gather_workers(app_registry("0"), hand_off, "/metrics")).decode()
    )
    up = {s.labels["worker"]: s.value for s in families["aiosio_metrics_worker_up"]}
    assert up == {"0": 1.0, "1": 0.0}


def test_the_peer_timeout_follows_the_scrapers() -> None:
    assert _http.peer_timeout(None) == _http.PEER_TIMEOUT == 2.0
    assert _http.peer_timeout("10") == 2.0
    assert _http.peer_timeout("1.5") == 0.75
    assert _http.peer_timeout("0.1") == _http.MIN_PEER_TIMEOUT
    assert _http.peer_timeout("soon") == 2.0
    assert _http.peer_timeout("nan") == 2.0
    assert _http.peer_timeout("-1") == 2.0


async def test_a_scrape_with_a_short_timeout_is_answered_in_time(
    tmp_path: Path, peers: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the /metrics route of a worker (its hand-off set as in ``--workers``)."""
    await peers("w1.sock", slow)
    monkeypatch.setattr(transport, "hand_off", SimpleNamespace(own_id=0, runtime_dir=str(tmp_path)))
    app = web.Application()
    sio = aiosio.AsyncServer()
    sio.attach(app)
    aiosio.metrics.setup(app, sio, registry=CollectorRegistry())
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as http:
            started = time.monotonic()
            headers = {_http.SCRAPE_TIMEOUT_HEADER: "0.8"}
            async with http.get(f"http://127.0.0.1:{port}/metrics", headers=headers) as response:
                text = await response.text()
            elapsed = time.monotonic() - started
        assert response.status == 200
        assert elapsed < 0.8 + 0.5, elapsed  # the peer got 0.3 s, not PEER_TIMEOUT
        up = {
            s.labels["worker"]: s.value
            for f in text_string_to_metric_families(text)
            if f.name == "aiosio_metrics_worker_up"
            for s in f.samples
        }
        assert up == {"0": 1.0, "1": 0.0}
    finally:
        await sio.shutdown()
        await runner.cleanup()


async def test_allow_refuses_a_scrape() -> None:
    sio = aiosio.AsyncServer()
    app = web.Application()
    sio.attach(app)
    aiosio.metrics.setup(app, sio, registry=CollectorRegistry(), allow=lambda r: "X-Token" in r.headers)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/metrics"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as refused:
                assert refused.status == 403
            async with http.get(url, headers={"X-Token": "1"}) as allowed:
                assert allowed.status == 200
                assert "aiosio_connections" in await allowed.text()
    finally:
        await sio.shutdown()
        await runner.cleanup()

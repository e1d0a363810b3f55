"""``aiosio.metrics``: scrape ``/metrics`` of a real server after known traffic and check the values.

Peers: aiosio's client (polling, upgraded and WebSocket-only clients), a raw polling client that
stops reading (a slow consumer), and the npm socket.io-client (interop).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

import aiosio
import aiosio.metrics

from .support import WithMetrics, scrape, total, until, value

sys.path.insert(0, str(Path(__file__).parent.parent / "interop"))

pytestmark = pytest.mark.timeout(60)

PAYLOAD = "x" * 1000


def make_server(**options: Any) -> aiosio.AsyncServer:
    sio = aiosio.AsyncServer(**options)

    @sio.event
    async def echo(sid: str, data: Any) -> Any:
        return data

    @sio.event
    def boom(sid: str) -> None:
        raise ValueError("boom")

    @sio.event
    async def join(sid: str, room: str) -> bool:
        await sio.enter_room(sid, room)
        return True

    @sio.event
    async def shout(sid: str, room: str) -> None:
        await sio.emit("news", "hello", to=room)

    @sio.event
    async def ask(sid: str) -> Any:
        return await sio.call("question", "?", to=sid, timeout=5)

    return sio


@pytest.mark.allow_server_errors(r"event handler failed")
async def test_metrics_after_known_traffic(serve: Any) -> None:
    sio = make_server()
    handle = await serve(WithMetrics(sio))
    url = handle.url + "/metrics"

    polling = aiosio.AsyncClient()
    await polling.connect(handle.url, transports=["polling"])
    first = await scrape(url)
    assert value(first, "aiosio_connected_sockets", namespace="/", transport="polling") == 1
    assert value(first, "aiosio_connected_sockets", namespace="/", transport="websocket") == 0
    assert value(first, "aiosio_connections", transport="polling") == 1

    upgraded = aiosio.AsyncClient()
    await upgraded.connect(handle.url)  # polling first, then the upgrade
    await until(lambda: upgraded.transport() == "websocket")
    ws = aiosio.AsyncClient()
    ws.on("question", lambda _q: "answer")
    news: list[Any] = []
    for client in (polling, upgraded, ws):
        client.on("news", news.append)
    await ws.connect(handle.url, transports=["websocket"])

    async def upgraded_seen() -> dict[Any, float]:
        while True:
            samples = await scrape(url)
            if value(samples, "aiosio_transport_upgrades_total") == 1:
                return samples
            await asyncio.sleep(0.02)

    before = await asyncio.wait_for(upgraded_seen(), 5)
    assert value(before, "aiosio_connected_sockets", namespace="/", transport="polling") == 1
    assert value(before, "aiosio_connected_sockets", namespace="/", transport="websocket") == 2
    assert value(before, "aiosio_connections", transport="websocket") == 2
    assert value(before, "aiosio_connections_opened_total", transport="polling") == 2
    assert value(before, "aiosio_connections_opened_total", transport="websocket") == 1
    assert value(before, "aiosio_socket_connects_total", namespace="/") == 3

    for _ in range(10):
        assert await ws.call("echo", PAYLOAD) == PAYLOAD
    after = await scrape(url)
    # Ten events of > 1000 bytes in, ten acks of > 1000 bytes out (and nothing else is that big).
    assert (
        after[("aiosio_packets_received_total", frozenset())]
        - before[("aiosio_packets_received_total", frozenset())]
        >= 10
    )
    assert (
        value(after, "aiosio_received_bytes_total") - value(before, "aiosio_received_bytes_total") >= 10_000
    )
    assert value(after, "aiosio_packets_sent_total") - value(before, "aiosio_packets_sent_total") >= 10
    assert value(after, "aiosio_sent_bytes_total") - value(before, "aiosio_sent_bytes_total") >= 10_000
    assert value(after, "aiosio_received_bytes_total") - value(before, "aiosio_received_bytes_total") < 12_000
    assert value(after, "aiosio_handler_duration_seconds_count", namespace="/") == 10

    for client in (polling, upgraded, ws):
        assert await client.call("join", "room") is True
    await ws.emit("shout", "room")
    await until(lambda: len(news) == 3)
    assert await ws.call("ask") == "answer"
    await ws.emit("boom")
    await until(lambda: total(sio_samples(sio), "aiosio_handler_errors_total", namespace="/") == 1)
    samples = await scrape(url)
    assert value(samples, "aiosio_handler_duration_seconds_count", namespace="/") == 10 + 3 + 1 + 1 + 1
    assert value(samples, "aiosio_handler_errors_total", namespace="/") == 1
    assert value(samples, "aiosio_emits_total", namespace="/") == 2  # the room broadcast, the call
    assert value(samples, "aiosio_emit_recipients_total", namespace="/") == 3 + 1
    assert value(samples, "aiosio_ack_round_trip_seconds_count", namespace="/") == 1
    assert 0 < value(samples, "aiosio_ack_round_trip_seconds_sum", namespace="/") < 5
    assert value(samples, "aiosio_ack_round_trip_seconds_bucket", namespace="/", le="30.0") == 1

    await polling.disconnect()
    await sio.disconnect(upgraded.get_sid())
    await ws.disconnect()
    await until(lambda: not sio.eio.core.sessions)
    end = await scrape(url)
    assert value(end, "aiosio_socket_disconnects_total", namespace="/", reason="client disconnect") == 2
    assert value(end, "aiosio_socket_disconnects_total", namespace="/", reason="server disconnect") == 1
    assert total(end, "aiosio_connected_sockets") == 0
    assert total(end, "aiosio_connections") == 0
    assert total(end, "aiosio_connections_closed_total") == 3
    assert value(end, "aiosio_slow_consumer_disconnects_total") == 0
    assert value(end, "aiosio_observer_errors_total") == 0
    await upgraded.disconnect()


def sio_samples(sio: aiosio.AsyncServer) -> dict[Any, float]:
    """The samples of the server's metrics, read in-process (no HTTP)."""
    from .support import parse

    for observer in sio.observers:
        metrics = getattr(observer, "metrics", None)
        if metrics is not None:
            return parse(metrics.render().decode())
    raise AssertionError("not instrumented")


async def test_a_slow_consumer_is_counted_and_its_queue_seen(serve: Any) -> None:
    """A polling client that stops polling: its queue shows in the gauges, then it overflows."""
    sio = aiosio.AsyncServer(max_queue_packets=100)
    connected = asyncio.Event()
    sids: list[str] = []

    @sio.event
    async def connect(sid: str, environ: Any) -> None:
        sids.append(sid)
        connected.set()

    handle = await serve(WithMetrics(sio))
    endpoint = handle.endpoint
    async with aiohttp.ClientSession() as http:
        async with http.get(endpoint, params={"EIO": "4", "transport": "polling"}) as response:
            opened = await response.text()
        eio_sid = opened.split('"sid":"')[1].split('"')[0]
        query = {"EIO": "4", "transport": "polling", "sid": eio_sid}
        async with http.post(endpoint, params=query, data="40") as response:
            assert response.status == 200
        await asyncio.wait_for(connected.wait(), 5)
        # The CONNECT reply and 20 events of > 1000 bytes wait for a GET that never comes.
        for _ in range(20):
            await sio.emit("big", PAYLOAD, to=sids[0])
        queued = await scrape(handle.url + "/metrics")
        assert value(queued, "aiosio_outbound_queued_bytes") >= 20_000
        assert value(queued, "aiosio_outbound_queue_max_bytes") >= 20_000
        assert value(queued, "aiosio_outbound_backed_up_connections") == 0
        for _ in range(100):
            await sio.emit("big", PAYLOAD, to=sids[0])
        await until(lambda: not sio.eio.core.sessions)
        samples = await scrape(handle.url + "/metrics")
    assert value(samples, "aiosio_slow_consumer_disconnects_total") == 1
    assert value(samples, "aiosio_connections_closed_total", reason="slow consumer") == 1
    assert value(samples, "aiosio_socket_disconnects_total", namespace="/", reason="slow consumer") == 1
    assert value(samples, "aiosio_outbound_queued_bytes") == 0


async def test_labels_stay_bounded(serve: Any) -> None:
    """namespaces='*' lets clients pick namespace names: past the cap they are 'other'; with
    event labels, event names too."""
    sio = aiosio.AsyncServer(namespaces="*")

    @sio.on("*", namespace="*")
    async def any_event(event: str, namespace: str, sid: str, *args: Any) -> None:
        return None

    target = WithMetrics(sio, event_labels=True, max_events=2, max_namespaces=3)
    handle = await serve(target)
    clients = []
    for i in range(4):
        client = aiosio.AsyncClient()
        await client.connect(handle.url, namespaces=[f"/n{i}"], transports=["websocket"])
        clients.append(client)
        for event in ("a", "b", "c"):
            await client.emit(event, namespace=f"/n{i}")
    await until(lambda: total(sio_samples(sio), "aiosio_handler_duration_seconds_count") == 12)
    samples = await scrape(handle.url + "/metrics")
    namespaces = {
        dict(labels)["namespace"] for (name, labels) in samples if name == "aiosio_socket_connects_total"
    }
    assert namespaces == {"/n0", "/n1", "/n2", "other"}  # 3 clients' names, "/" preset besides
    events = {
        dict(labels)["event"] for (name, labels) in samples if name == "aiosio_handler_duration_seconds_count"
    }
    assert events == {"a", "b", "other"}
    assert value(samples, "aiosio_handler_duration_seconds_count", namespace="other", event="other") == 1
    for client in clients:
        await client.disconnect()


async def test_instrument_is_idempotent_and_servers_need_labels() -> None:
    registry = CollectorRegistry()
    sio = aiosio.AsyncServer()
    first = aiosio.metrics.instrument(sio, registry)
    assert aiosio.metrics.instrument(sio, registry) is first
    with pytest.raises(ValueError, match="const_labels"):
        aiosio.metrics.instrument(aiosio.AsyncServer(), registry)
    other = aiosio.metrics.instrument(aiosio.AsyncServer(), registry, const_labels={"server": "b"})
    text = first.render().decode()
    assert 'aiosio_connections{server="b",transport="polling"} 0.0' in text
    assert 'aiosio_connections{transport="polling"} 0.0' in text
    first.close()
    assert first.observer not in sio.observers
    assert 'aiosio_connections{transport="polling"}' not in other.render().decode()


def test_import_aiosio_does_not_import_prometheus_client() -> None:
    import subprocess

    code = "import sys, aiosio; s = aiosio.AsyncServer(); print('prometheus_client' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.interop
async def test_npm_client_polling_then_upgraded(serve: Any) -> None:
    from node_driver import NodeDriver

    from peers import require_node

    require_node()
    sio = make_server()
    handle = await serve(WithMetrics(sio))
    driver = await NodeDriver.start(watchdog=30)
    try:
        await driver.connect("c", handle.url)  # socket.io-client's default: polling, then upgrade
        await driver.event("connect", client="c")
        assert await driver.call("c", "echo", PAYLOAD) == [PAYLOAD]

        async def upgraded() -> dict[Any, float]:
            while True:
                samples = await scrape(handle.url + "/metrics")
                if value(samples, "aiosio_transport_upgrades_total") == 1:
                    return samples
                await asyncio.sleep(0.02)

        samples = await asyncio.wait_for(upgraded(), 10)
        assert value(samples, "aiosio_connections_opened_total", transport="polling") == 1
        assert value(samples, "aiosio_connected_sockets", namespace="/", transport="websocket") == 1
        assert value(samples, "aiosio_connected_sockets", namespace="/", transport="polling") == 0
        assert value(samples, "aiosio_handler_duration_seconds_count", namespace="/") == 1
        assert value(samples, "aiosio_received_bytes_total") > 1000
    finally:
        await driver.close()

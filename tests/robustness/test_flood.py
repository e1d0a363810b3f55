"""Floods: one client cannot make the server run unbounded work or keep state alive forever."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

pytestmark = pytest.mark.timeout(40)

EVENTS = 10_000
MAX_INFLIGHT = 100  # the default


def _install_slow_handler(h, delay: float = 0.005) -> dict:
    """A ``slow`` handler that counts how many of its calls run at once."""
    state = {"running": 0, "peak": 0, "seen": []}

    async def slow(sid, n):
        state["running"] += 1
        state["peak"] = max(state["peak"], state["running"])
        try:
            await asyncio.sleep(delay)
        finally:
            state["running"] -= 1
        state["seen"].append(n)

    h.sio.on("slow", slow)
    return state


async def test_websocket_flood_keeps_at_most_max_inflight_handlers(server):
    state = _install_slow_handler(server)
    bystander = await server.ws()
    client = await server.ws()
    for i in range(EVENTS):
        await client.ws.send_str(f'42["slow",{i}]')
    # The flooded server still serves others while it works through the backlog.
    await bystander.echo("during the flood")
    await server.until(lambda: len(state["seen"]) == EVENTS, timeout=30)
    assert state["peak"] <= MAX_INFLIGHT
    assert state["peak"] >= MAX_INFLIGHT // 2, "the handlers never ran concurrently: the test proves nothing"
    assert sorted(state["seen"]) == list(range(EVENTS))
    session = server.sio.eio.get(client.eio_sid)
    await server.until(lambda: session.inflight == 0)  # done callbacks run just after the handlers
    await client.echo("after the flood")
    await server.assert_unharmed(bystander)


async def test_polling_flood_in_one_post_keeps_at_most_max_inflight_handlers(server):
    """One POST may carry thousands of packets; they must not all start handlers at once."""
    state = _install_slow_handler(server)
    bystander = await server.ws()
    client = await server.polling()
    count = 5_000
    body = "\x1e".join(f'42["slow",{i}]' for i in range(count))
    assert await client.post(body, timeout=30) == (200, "ok")
    await server.until(lambda: len(state["seen"]) == count, timeout=30)
    assert state["peak"] <= MAX_INFLIGHT
    assert sorted(state["seen"]) == list(range(count))
    await server.assert_unharmed(bystander)


async def test_max_inflight_setting_is_honoured(make_server):
    h = await make_server(max_inflight=7)
    state = _install_slow_handler(h, delay=0.01)
    client = await h.ws()
    for i in range(300):
        await client.ws.send_str(f'42["slow",{i}]')
    await h.until(lambda: len(state["seen"]) == 300, timeout=20)
    assert state["peak"] == 7
    await h.assert_unharmed(client)


async def test_unsolicited_pongs_are_dropped(server):
    """A PONG with no PING outstanding changes nothing: it cannot buy the client time."""
    bystander = await server.ws()
    client = await server.ws()
    session = server.sio.eio.get(client.eio_sid)
    deadline, timer = session.heartbeat.deadline, session._timer
    for _ in range(1_000):
        await client.send("3")
    await client.echo("after pongs")
    assert session.heartbeat.deadline == deadline
    assert session._timer is timer
    assert session.heartbeat.awaiting_pong is False
    assert not session.closed
    await server.assert_unharmed(bystander)


async def test_extra_pong_after_a_real_one_is_dropped(make_server):
    h = await make_server(ping_interval=0.2, ping_timeout=0.5)
    client = await h.ws(autopong=False)
    session = h.sio.eio.get(client.eio_sid)
    assert await client.recv() == "2"
    await client.send("3")
    await h.until(lambda: not session.heartbeat.awaiting_pong)
    deadline = session.heartbeat.deadline
    for _ in range(50):
        await client.send("3")
    await client.send('42["echo","x"]')
    await h.until(lambda: h.events_of(client.sid))
    assert session.heartbeat.deadline == deadline
    assert not session.closed
    h.assert_no_tracebacks()


async def test_polling_unsolicited_pongs_are_dropped(server):
    client = await server.polling()
    session = server.sio.eio.get(client.eio_sid)
    deadline = session.heartbeat.deadline
    assert await client.post("\x1e".join(["3"] * 500)) == (200, "ok")
    assert session.heartbeat.deadline == deadline
    assert session.heartbeat.awaiting_pong is False
    server.assert_no_tracebacks()


def _live_timers(loop: asyncio.AbstractEventLoop) -> int:
    # CPython's loop keeps its TimerHandles in ``_scheduled``; a cancelled one stays until popped.
    return sum(1 for t in loop._scheduled if not t.cancelled())  # type: ignore[attr-defined]


async def test_abandoned_polling_handshakes_leave_nothing_behind(make_server):
    h = await make_server(ping_interval=0.2, ping_timeout=0.2)
    loop = asyncio.get_running_loop()
    baseline_tasks = set(asyncio.all_tasks())
    baseline_timers = _live_timers(loop)
    total, joined = 500, 100
    sem = asyncio.Semaphore(20)
    connector = aiohttp.TCPConnector(force_close=True, limit=20)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{h.port}", connector=connector) as http:

        async def abandon(i):
            async with sem:
                async with http.get(h.url()) as resp:
                    assert resp.status == 200
                    sid = (await resp.text())[1:].split('"sid":"')[1].split('"')[0]
                if i < joined:  # some also join "/" before going silent
                    url = h.url(f"transport=polling&sid={sid}")
                    async with http.post(url, data=b"40") as resp:
                        assert resp.status == 200

        await asyncio.gather(*(abandon(i) for i in range(total)))
    assert len(h.connects) == joined
    await h.until(lambda: not h.sio.eio.sockets, timeout=10)
    assert h.sio._sockets == {}
    assert sorted(reason for _, reason in h.disconnects) == ["ping timeout"] * joined
    me = asyncio.current_task()
    await h.until(lambda: not (set(asyncio.all_tasks()) - baseline_tasks - {me}))
    assert _live_timers(loop) <= baseline_timers
    assert not h.sio.eio.core._tasks
    await h.assert_unharmed()


async def test_connect_flood_to_many_namespaces_keeps_at_most_max_inflight_handlers(make_server):
    """Slow ``connect`` handlers count against ``max_inflight`` like event handlers do."""
    h = await make_server(namespaces="*")
    state = {"running": 0, "peak": 0, "done": 0}

    async def connect(sid, environ, auth=None):
        state["running"] += 1
        state["peak"] = max(state["peak"], state["running"])
        try:
            await asyncio.sleep(0.01)
        finally:
            state["running"] -= 1
        state["done"] += 1

    h.sio.on("connect", connect, namespace="*")
    client = await h.ws(connect=False)
    count = 1_000
    for i in range(count):
        await client.send(f"40/n{i},")
    await h.until(lambda: state["done"] == count, timeout=20)
    assert state["peak"] <= MAX_INFLIGHT
    await h.until(lambda: len(h.sio._sockets) == count)
    await h.assert_unharmed()


async def test_session_that_never_joins_a_namespace_is_closed(make_server):
    """An Engine.IO session that never sends CONNECT is closed (with CLOSE) at the first PING due
    after ``connect_timeout``, long before any ping timeout."""
    h = await make_server(connect_timeout=0.3, ping_interval=0.4, ping_timeout=5)
    bystander = await h.ws()
    idle = await h.ws(connect=False)
    seen, _code = await idle.closed(timeout=5)
    assert "1" in seen
    assert h.sio.eio.get(idle.eio_sid) is None
    await h.assert_unharmed(bystander)

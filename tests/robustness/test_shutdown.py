"""``await sio.shutdown()``: every client hears CLOSE, every disconnect handler runs, nothing is left."""

from __future__ import annotations

import asyncio

import pytest

pytestmark = pytest.mark.timeout(20)


async def test_shutdown_closes_websocket_and_polling_clients(server):
    baseline = set(asyncio.all_tasks())
    ws_clients = [await server.ws() for _ in range(3)]
    bare = await server.ws(connect=False)  # an Engine.IO session that never joined a namespace
    poll_clients = [await server.polling() for _ in range(3)]
    gets = [asyncio.ensure_future(c.get()) for c in poll_clients]
    await server.until(lambda: all(server.sio.eio.get(c.eio_sid)._poll is not None for c in poll_clients))

    await asyncio.wait_for(server.sio.shutdown(), 5)

    for client in [*ws_clients, bare]:
        seen, _code = await client.closed()
        assert "1" in seen, seen
    for get in gets:
        status, body = await asyncio.wait_for(get, 5)
        assert status == 200
        assert "1" in body.split("\x1e"), body
    joined = {c.sid for c in ws_clients + poll_clients}
    assert {sid for sid, _ in server.disconnects} == joined
    assert all(reason == "server shutting down" for _, reason in server.disconnects)
    assert len(server.disconnects) == len(joined), "a disconnect handler ran twice"
    assert server.sio.eio.sockets == {}
    assert server.sio._sockets == {}
    assert not server.sio.eio.core._tasks
    for client in poll_clients:
        await client.assert_dead()
    # Nothing the server started for these connections is still running once they are gone.
    me = asyncio.current_task()
    await server.http.close()
    await server.until(lambda: not (set(asyncio.all_tasks()) - baseline - {me}))
    server.assert_no_tracebacks()


async def test_new_connections_refused_after_shutdown(server):
    await server.sio.shutdown()
    status, _ = await server.request("GET", server.url())
    assert status == 403
    assert server.sio.eio.sockets == {}
    server.assert_no_tracebacks()


async def test_shutdown_while_handlers_run(server):
    """A handler still running at shutdown finishes; its ack goes nowhere and nothing breaks."""
    started, release = asyncio.Event(), asyncio.Event()

    async def busy(sid):
        started.set()
        await release.wait()
        return "done"

    server.sio.on("busy", busy)
    client = await server.ws()
    await client.send('421["busy"]')
    await asyncio.wait_for(started.wait(), 5)
    await asyncio.wait_for(server.sio.shutdown(), 5)
    seen, _ = await client.closed()
    assert "1" in seen
    release.set()
    await asyncio.sleep(0.05)
    assert server.reasons(client.sid) == ["server shutting down"]
    server.assert_no_tracebacks()


async def test_shutdown_twice_is_harmless(server):
    client = await server.ws()
    await server.sio.shutdown()
    await server.sio.shutdown()
    await client.closed()
    assert server.reasons(client.sid) == ["server shutting down"]
    server.assert_no_tracebacks()


async def test_shutdown_reaches_a_polling_client_between_polls(server):
    """A client with no GET waiting still hears CLOSE on its next GET, once; after that the sid is dead."""
    client = await server.polling()
    await asyncio.wait_for(server.sio.shutdown(), 5)
    status, body = await client.get()
    assert status == 200
    assert body.split("\x1e")[-1] == "1", body
    await client.assert_dead()
    server.assert_no_tracebacks()

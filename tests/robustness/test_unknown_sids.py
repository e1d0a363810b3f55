"""Server APIs given a sid that is not connected: no-ops, or clear errors, never a crash.

A sid that has gone away is the normal case in a real app (a handler acts on a client that just
left), so both a made-up sid and the sid of a client that disconnected are tried.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from aiosio import exceptions

pytestmark = pytest.mark.timeout(15)


@pytest.fixture(params=["made-up", "departed"])
async def gone(request, server):
    """A sid no client holds now, and the server."""
    if request.param == "made-up":
        return server, "nope"
    client = await server.ws()
    await client.close()
    await server.until(lambda: server.reasons(client.sid))
    return server, client.sid


async def test_emit_and_send_to_unknown_sid_do_nothing(gone):
    h, sid = gone
    bystander = await h.ws()
    await h.sio.emit("x", 1, to=sid)
    await h.sio.emit("x", 1, room=sid, skip_sid=bystander.sid)
    await h.sio.emit("x", 1, to=[sid, "also-nope"])
    await h.sio.emit("x", 1, to=sid, callback=lambda *a: None)
    await h.sio.send("hello", to=sid)
    await h.sio.emit("x", 1, to=sid, volatile=True)
    await h.assert_unharmed(bystander)


async def test_disconnect_unknown_sid_does_nothing(gone):
    h, sid = gone
    bystander = await h.ws()
    before = list(h.disconnects)
    await h.sio.disconnect(sid)
    assert h.disconnects == before
    await h.assert_unharmed(bystander)


async def test_rooms_of_unknown_sid(gone):
    h, sid = gone
    bystander = await h.ws()
    await h.sio.enter_room(sid, "r")
    await h.sio.leave_room(sid, "r")
    await h.sio.enter_room(sid, "r")
    assert h.sio.rooms(sid) == []
    assert list(h.sio.manager.get_participants("/", "r")) == []
    await h.sio.close_room("r")
    await h.assert_unharmed(bystander)


async def test_session_of_unknown_sid_is_key_error(gone):
    h, sid = gone
    with pytest.raises(KeyError):
        await h.sio.get_session(sid)
    with pytest.raises(KeyError):
        await h.sio.save_session(sid, {"a": 1})
    with pytest.raises(KeyError):
        async with h.sio.session(sid):
            pass
    with pytest.raises(KeyError):
        h.sio.transport(sid)
    assert h.sio.get_environ(sid) is None
    await h.assert_unharmed()


async def test_call_to_unknown_sid_raises_disconnected_at_once(gone):
    h, sid = gone
    started = time.monotonic()
    with pytest.raises(exceptions.DisconnectedError):
        await asyncio.wait_for(h.sio.call("x", to=sid, timeout=30), 3)
    assert time.monotonic() - started < 0.5
    await h.assert_unharmed()


async def test_sid_of_another_namespace_is_unknown_here(server):
    client = await server.ws()
    with pytest.raises(KeyError):
        await server.sio.get_session(client.sid, namespace="/other")
    with pytest.raises(exceptions.DisconnectedError):
        await server.sio.call("x", to=client.sid, namespace="/other", timeout=30)
    await server.sio.disconnect(client.sid, namespace="/other")
    assert server.sio.rooms(client.sid, namespace="/other") == []
    await server.assert_unharmed(client)

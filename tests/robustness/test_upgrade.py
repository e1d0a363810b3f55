"""A botched polling -> WebSocket upgrade ends that WebSocket only; the polling session carries on.

The upgrade is: WebSocket with the polling sid, client ``2probe``, server ``3probe`` (a waiting GET
gets NOOP), client ``5``. Anything else, or silence past ``upgrade_timeout``, aborts the upgrade.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

pytestmark = pytest.mark.timeout(15)


async def _open_upgrade(h, client):
    return await h.http.ws_connect(h.url(f"transport=websocket&sid={client.eio_sid}"))


async def _still_polling(h, client, value: str) -> None:
    """The session works over polling: a POSTed event runs and its ack comes back on a GET."""
    session = h.sio.eio.get(client.eio_sid)
    assert session is not None and session.transport == "polling" and not session.upgrading
    assert await client.post(f'4299["echo","{value}"]') == (200, "ok")
    async with asyncio.timeout(5):
        while True:
            if f'4399["{value}"]' in await client.packets():
                return


async def _assert_refused(h, url: str) -> None:
    """The WebSocket is refused: HTTP 400, or accepted and closed at once (as the reference server
    does once a session is upgraded), and never given the session."""
    try:
        ws = await h.http.ws_connect(url)
    except aiohttp.WSServerHandshakeError as exc:
        assert exc.status == 400
        return
    await ws.send_str("2probe")
    async with asyncio.timeout(5):
        while True:
            msg = await ws.receive()
            assert msg.data != "3probe", "a second WebSocket was offered the session"
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                return


async def _wait_ws_closed(ws: aiohttp.ClientWebSocketResponse) -> None:
    async with asyncio.timeout(5):
        while not ws.closed:
            msg = await ws.receive()
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                break


@pytest.mark.parametrize(
    "messages",
    [["2garbage"], ["5"], ["2probe", '42["echo","x"]'], ["2probe", "2probe"], ["2probe", "9"]],
    ids=["bad-probe", "upgrade-before-probe", "event-instead-of-upgrade", "probe-twice", "garbage"],
)
async def test_botched_upgrade_leaves_polling_session_working(server, messages):
    bystander = await server.ws()
    client = await server.polling()
    ws = await _open_upgrade(server, client)
    for message in messages:
        await ws.send_str(message)
    await _wait_ws_closed(ws)
    await _still_polling(server, client, "after")
    assert server.reasons(client.sid) == []
    await server.assert_unharmed(bystander)


async def test_binary_probe_aborts_upgrade(server):
    client = await server.polling()
    ws = await _open_upgrade(server, client)
    await ws.send_bytes(b"2probe")
    await _wait_ws_closed(ws)
    await _still_polling(server, client, "after")
    await server.assert_unharmed()


async def test_silent_upgrade_times_out(make_server):
    h = await make_server(upgrade_timeout=0.3)
    client = await h.polling()
    ws = await _open_upgrade(h, client)
    await ws.send_str("2probe")
    assert (await ws.receive()).data == "3probe"
    await _wait_ws_closed(ws)
    await _still_polling(h, client, "after timeout")
    await h.assert_unharmed()


async def test_second_upgrade_while_one_is_pending_is_refused(server):
    client = await server.polling()
    first = await _open_upgrade(server, client)
    await first.send_str("2probe")
    assert (await first.receive()).data == "3probe"
    await _assert_refused(server, server.url(f"transport=websocket&sid={client.eio_sid}"))
    await first.send_str("5")
    await first.send_str('4277["echo","upgraded"]')
    async with asyncio.timeout(5):
        while (await first.receive()).data != '4377["upgraded"]':
            pass
    await first.close()
    server.assert_no_tracebacks()


async def test_upgrade_of_websocket_session_is_refused(server):
    bystander = await server.ws()
    await _assert_refused(server, server.url(f"transport=websocket&sid={bystander.eio_sid}"))
    await server.assert_unharmed(bystander)


async def test_second_websocket_after_upgrade_is_refused(server):
    client = await server.polling()
    ws = await _open_upgrade(server, client)
    await ws.send_str("2probe")
    assert (await ws.receive()).data == "3probe"
    await ws.send_str("5")
    await ws.send_str('4277["echo","upgraded"]')
    async with asyncio.timeout(5):
        while (await ws.receive()).data != '4377["upgraded"]':
            pass
    await _assert_refused(server, server.url(f"transport=websocket&sid={client.eio_sid}"))
    await ws.send_str('4278["echo","still mine"]')
    async with asyncio.timeout(5):
        while (await ws.receive()).data != '4378["still mine"]':
            pass
    await ws.close()
    server.assert_no_tracebacks()


async def test_upgrade_when_disabled_is_refused(make_server):
    h = await make_server(allow_upgrades=False)
    client = await h.polling()
    assert client.open["upgrades"] == []
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await _open_upgrade(h, client)
    await _still_polling(h, client, "x")
    await h.assert_unharmed()


async def test_session_dying_during_upgrade_closes_the_websocket(make_server):
    h = await make_server(ping_interval=0.2, ping_timeout=0.2, upgrade_timeout=10)
    client = await h.polling()
    ws = await _open_upgrade(h, client)
    await ws.send_str("2probe")
    assert (await ws.receive()).data == "3probe"
    # Neither side finishes: the heartbeat goes unanswered and the session ends mid-upgrade.
    await h.until(lambda: h.reasons(client.sid))
    await _wait_ws_closed(ws)
    assert h.reasons(client.sid) == ["ping timeout"]
    await client.assert_dead()
    await h.assert_unharmed()

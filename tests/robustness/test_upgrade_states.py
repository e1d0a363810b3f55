"""The server session in each upgrade state (protocol/eio_session.py, driven by transport/server.py).

While UPGRADING (probe answered, UPGRADE not yet received) a polling GET is answered at once, so a
client pausing polling is not held for a heartbeat period. Once upgraded, a second UPGRADE or a probe
on the session's WebSocket breaks the protocol: the session ends with reason 'parse error'.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

pytestmark = pytest.mark.timeout(20)


async def _upgraded(h, client) -> aiohttp.ClientWebSocketResponse:
    ws = await h.http.ws_connect(h.url(f"transport=websocket&sid={client.eio_sid}"))
    await ws.send_str("2probe")
    assert (await ws.receive()).data == "3probe"
    await ws.send_str("5")
    session = h.sio.eio.get(client.eio_sid)
    await h.until(lambda: session.transport == "websocket")
    return ws


async def test_get_while_upgrading_is_answered_at_once(make_server):
    # A heartbeat period long enough that a GET left waiting would time the test out.
    h = await make_server(ping_interval=30, ping_timeout=30)
    client = await h.polling()
    ws = await h.http.ws_connect(h.url(f"transport=websocket&sid={client.eio_sid}"))
    await ws.send_str("2probe")
    assert (await ws.receive()).data == "3probe"
    session = h.sio.eio.get(client.eio_sid)
    assert session.upgrading and not session.upgraded
    started = time.monotonic()
    assert await client.packets() == ["6"]
    assert time.monotonic() - started < 2
    await ws.send_str("5")
    await h.until(lambda: session.upgraded)
    await ws.close()
    h.assert_no_tracebacks()


@pytest.mark.parametrize("message", ["5", "2probe"], ids=["second-upgrade", "probe-after-upgrade"])
async def test_upgrade_packets_on_the_upgraded_websocket_are_a_parse_error(server, message):
    bystander = await server.ws()
    client = await server.polling()
    ws = await _upgraded(server, client)
    await ws.send_str(message)
    await server.until(lambda: server.reasons(client.sid))
    assert server.reasons(client.sid) == ["parse error"]
    async with asyncio.timeout(5):
        while (await ws.receive()).type not in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.ERROR,
        ):
            pass
    await server.assert_unharmed(bystander)

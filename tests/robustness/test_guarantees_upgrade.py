"""Emits made while a polling session upgrades to WebSocket arrive once each, in order
(docs/reliability.md, "Order per socket"), and nothing goes out on the WebSocket before UPGRADE.

These raw tests walk through every stage of the upgrade and emit at each one; the real-peer test
(npm socket.io-client upgrading while the server emits without pause) is in
tests/interop/test_guarantees_upgrade_node.py. python-socketio's client cannot be used for it: it
upgrades before it joins a namespace, so nothing can be emitted to it during the upgrade.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest

pytestmark = pytest.mark.timeout(30)


def _seqs(packets: list[str]) -> list[int]:
    """The numbers of the ``seq`` events among Engine.IO packets."""
    return [orjson.loads(p[2:])[1] for p in packets if p.startswith('42["seq",')]


async def test_emits_at_every_stage_of_an_upgrade_arrive_once_in_order(server):
    h = server
    client = await h.polling()
    sid = client.sid
    n = 0
    polled: list[str] = []

    async def emit(count: int) -> None:
        nonlocal n
        for _ in range(count):
            await h.sio.emit("seq", n, to=sid)
            n += 1

    await emit(3)  # 1. plain polling, no GET waiting: queued for the next GET
    polled += await client.packets()
    get = asyncio.ensure_future(client.packets())  # 2. a GET waits ...
    session = h.sio.eio.get(client.eio_sid)
    await h.until(lambda: session._poll is not None)
    ws = await h.http.ws_connect(h.url(f"transport=websocket&sid={client.eio_sid}"))
    await h.until(lambda: session.upgrading)
    await emit(3)  # ... while the WebSocket is open but not probed: the waiting GET takes them
    polled += await get
    get = asyncio.ensure_future(client.packets())
    await h.until(lambda: session._poll is not None)
    await ws.send_str("2probe")
    assert (await ws.receive()).data == "3probe"
    polled += await get  # 3. the probe ends the waiting GET (NOOP)
    await emit(4)  # 4. probed, before UPGRADE: queued
    polled += await client.packets()  # (a client that polls once more now takes them over polling)
    await emit(4)  # queued, for the WebSocket
    # Nothing was written to the WebSocket before UPGRADE.
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await ws.receive()
    assert h.sio.transport(sid) == "polling"
    await ws.send_str("5")
    await h.until(lambda: session.upgraded)
    assert h.sio.transport(sid) == "websocket"
    await emit(3)  # 5. upgraded: straight to the WebSocket
    on_ws: list[str] = []
    async with asyncio.timeout(5):
        while len(_seqs(on_ws)) < n - len(_seqs(polled)):
            on_ws.append((await ws.receive()).data)
    assert _seqs(polled) == list(range(10)), polled
    assert _seqs(polled) + _seqs(on_ws) == list(range(n)), (polled, on_ws)
    assert all(p.startswith('42["seq",') or p == "6" for p in polled + on_ws), (polled, on_ws)
    # The polling side is finished: no GET is served for an upgraded session.
    status, _ = await client.get()
    assert status == 400
    await ws.send_str('4211["echo","after"]')
    async with asyncio.timeout(5):
        while (await ws.receive()).data != '4311["after"]':
            pass
    await ws.close()
    h.assert_no_tracebacks()


async def test_broadcast_during_upgrade_keeps_order_for_every_client(server):
    """The same holds for broadcasts (one encoded packet, several recipients): the upgrading client
    gets every one once, in order, like the bystander on WebSocket."""
    h = server
    bystander = await h.ws()
    client = await h.polling()
    session = h.sio.eio.get(client.eio_sid)
    ws = await h.http.ws_connect(h.url(f"transport=websocket&sid={client.eio_sid}"))
    await ws.send_str("2probe")
    assert (await ws.receive()).data == "3probe"
    for i in range(20):
        await h.sio.emit("seq", i)
    await ws.send_str("5")
    await h.until(lambda: session.upgraded)
    for i in range(20, 30):
        await h.sio.emit("seq", i)
    got: list[str] = []
    async with asyncio.timeout(5):
        while len(_seqs(got)) < 30:
            got.append((await ws.receive()).data)
    assert _seqs(got) == list(range(30))
    seen = []
    while len(seen) < 30:
        seen.append(orjson.loads((await bystander.expect('42["seq"'))[2:])[1])
    assert seen == list(range(30))
    await ws.close()
    await h.assert_unharmed(bystander)

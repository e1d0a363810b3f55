"""A TCP reset at any point of the WebSocket upgrade is a hang-up: no traceback, no ERROR, nobody else hurt.

A raw client does the long-polling handshake, joins "/", opens the upgrade WebSocket over a bare socket
and resets the connection (SO_LINGER 0, then close) at each step of the upgrade. The server must log
at most the documented one-line notice, keep other connections working, and end or keep the session
cleanly (the polling session goes on when the upgrade did not complete).
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct

import pytest

from .conftest import STEP, Harness, MakeServer, client_frame

#: How far the upgrade gets before the reset.
STAGES = [
    "request-sent",  # the upgrade request is written, the 101 not read
    "switched",  # the 101 was read
    "probe-sent",  # 2probe written, 3probe not read
    "probe-answered",  # 3probe read, UPGRADE not sent
    "upgrade-sent",  # 5 written: the session now belongs to this WebSocket
    "upgraded-pending-write",  # upgraded, with server packets on their way to the dead socket
]


def reset(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def recv_exactly(loop: asyncio.AbstractEventLoop, sock: socket.socket, n: int) -> bytes:
    data = b""
    async with asyncio.timeout(STEP):
        while len(data) < n:
            chunk = await loop.sock_recv(sock, n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
    return data


async def read_frame(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> bytes:
    """One unmasked server frame's payload (frames here are short)."""
    head = await recv_exactly(loop, sock, 2)
    n = head[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", await recv_exactly(loop, sock, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await recv_exactly(loop, sock, 8))[0]
    return await recv_exactly(loop, sock, n)


async def upgrade_then_reset(h: Harness, eio_sid: str, stage: str) -> None:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", h.port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {h.url(f'transport=websocket&sid={eio_sid}')} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{h.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    await loop.sock_sendall(sock, request)
    if stage == "request-sent":
        reset(sock)
        return
    head = b""
    async with asyncio.timeout(STEP):
        while b"\r\n\r\n" not in head:
            head += await loop.sock_recv(sock, 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    if stage == "switched":
        reset(sock)
        return
    await loop.sock_sendall(sock, client_frame(b"2probe"))
    if stage == "probe-sent":
        reset(sock)
        return
    assert await read_frame(loop, sock) == b"3probe"
    if stage == "probe-answered":
        reset(sock)
        return
    await loop.sock_sendall(sock, client_frame(b"5"))
    if stage == "upgrade-sent":
        reset(sock)
        return
    # Upgraded: the server is about to write a burst (see the test); reset mid-way.
    await loop.sock_sendall(sock, client_frame(b'42["burst"]'))
    await asyncio.sleep(0.05)
    reset(sock)


@pytest.mark.parametrize("stage", STAGES)
async def test_reset_during_upgrade_is_a_quiet_hang_up(make_server: MakeServer, stage: str) -> None:
    h = await make_server()

    async def burst(sid: str) -> None:
        # Keep writing to the socket while (and after) the client resets it.
        for _ in range(200):
            await h.sio.emit("tick", "x" * 2000, to=sid)
            await asyncio.sleep(0.001)

    h.sio.on("burst", burst)
    bystander = await h.ws()
    client = await h.polling()
    # A GET waiting while the upgrade runs, as a real client keeps one.
    waiting = asyncio.ensure_future(client.get())
    await asyncio.sleep(0.05)
    await upgrade_then_reset(h, client.eio_sid, stage)
    # The waiting GET ends one way or another (NOOP, CLOSE, or still waiting): not the point here.
    await asyncio.wait([waiting], timeout=0.3)
    waiting.cancel()
    await asyncio.sleep(0.2)
    if stage in ("upgrade-sent", "upgraded-pending-write"):
        # The session moved to the WebSocket and died with it.
        await h.until(lambda: bool(h.reasons(client.sid)))
        assert h.reasons(client.sid) == ["transport error"] or h.reasons(client.sid) == ["transport close"]
    else:
        # The upgrade never completed: the session carries on over polling (or, if the reset hit
        # while it was being switched, ends with a transport reason), and never twice.
        assert h.reasons(client.sid) in ([], ["transport error"], ["transport close"])
        if not h.reasons(client.sid):
            assert await client.post('42["echo","after"]') == (200, "ok")
            await h.until(lambda: ("echo", ("after",)) in h.events_of(client.sid))
    await h.assert_unharmed(bystander)


@pytest.mark.parametrize("join", [False, True])
async def test_reset_during_a_direct_websocket_handshake_is_quiet(
    make_server: MakeServer, join: bool
) -> None:
    h = await make_server()
    bystander = await h.ws()
    loop = asyncio.get_running_loop()
    for _ in range(5):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", h.port))
        key = base64.b64encode(os.urandom(16)).decode()
        await loop.sock_sendall(
            sock,
            (
                f"GET {h.url('transport=websocket')} HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{h.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
            + (client_frame(b"40") if join else b""),
        )
        reset(sock)
    await asyncio.sleep(0.2)
    await h.until(lambda: len(h.sio._core.sessions) == 1)  # only the bystander's is left
    await h.assert_unharmed(bystander)

"""Who may reach the admin namespace, and what a socket record gives away (the cold review's
findings 1, 5, 6, 10 and 13).

The attacker is a raw Engine.IO WebSocket (aiohttp) speaking Socket.IO packets by hand, so it can
send an operation right after its CONNECT, before the server decided; the admins are aiosio
clients. Every server runs in-process on a random port (the ``serve`` fixture).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from admin_support import CREDENTIALS, admin_client

import aiosio
from aiosio.admin import InstrumentedAsyncServer
from aiosio.admin import auth as auth_module
from aiosio.admin.auth import AdminAuth, same_credentials
from aiosio.admin.operations import Operations
from aiosio.admin.serialize import public_handshake

pytestmark = pytest.mark.timeout(60)


async def read_for(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> list[str]:
    """Every text frame ``ws`` gets within ``seconds`` (until it closes)."""
    got: list[str] = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                msg = await ws.receive()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                got.append(msg.data)
    except TimeoutError:
        pass
    return got


@pytest.mark.parametrize("slow_auth", [False, True], ids=["wrong-password", "slow-refusing-callable"])
async def test_always_connect_never_opens_the_admin_namespace_early(serve: Any, slow_auth: bool) -> None:
    """With ``always_connect=True`` a client with bad credentials is refused before anything: its
    ``_disconnect`` operation sent right after its CONNECT disconnects nobody, and while a slow
    auth callable decides it is sent no server_stats (only the CONNECT_ERROR)."""
    sio = aiosio.AsyncServer(always_connect=True)

    async def slow_refusal(_auth: Any) -> bool:
        await asyncio.sleep(0.8)
        return False

    admin = sio.instrument(auth=slow_refusal if slow_auth else CREDENTIALS, server_stats_interval=0.1)
    try:
        handle = await serve(sio)
        base = handle.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
        async with aiohttp.ClientSession() as http:
            victim = await http.ws_connect(base)
            await victim.receive()  # the Engine.IO open packet
            await victim.send_str("40")
            assert (await victim.receive()).data.startswith("40{")
            attacker = await http.ws_connect(base)
            await attacker.receive()
            await attacker.send_str('40/admin,{"username":"admin","password":"wrong"}')
            await attacker.send_str('42/admin,["_disconnect","/",true,null]')
            await attacker.send_str('42/admin,["emit","/",null,"owned"]')
            got = [frame for frame in await read_for(attacker, 1.5) if frame not in ("2", "3")]
            assert got == ['44/admin,{"message":"invalid credentials"}'], got
            # The victim was neither disconnected nor emitted to.
            assert [f for f in await read_for(victim, 0.3) if f != "2"] == []
            assert not victim.closed
            await victim.close()
            await attacker.close()
    finally:
        await admin.shutdown()


async def test_operations_act_only_for_admitted_admins(serve: Any) -> None:
    """The operation handlers ignore a sid the connect handler did not admit (whatever reaches
    them), and act for one it did."""
    sio = aiosio.AsyncServer()
    admin = sio.instrument(auth=False)
    try:
        handle = await serve(sio)
        user = aiosio.AsyncClient()
        await user.connect(handle.url, transports=["websocket"])
        ops = Operations(sio, admin.admitted, "/admin")
        await ops.join("not-an-admin", "/", "vip", None)
        await ops.disconnect("not-an-admin", "/", True, None)
        await asyncio.sleep(0.2)
        assert user.connected and sio.rooms(user.get_sid()) == [user.get_sid()]
        admin.admitted.add("an-admin")
        await ops.join("an-admin", "/", "vip", None)
        assert "vip" in sio.rooms(user.get_sid())
        await user.disconnect()
    finally:
        await admin.shutdown()


async def test_admitted_sids_follow_the_admins(serve: Any) -> None:
    """An admin is admitted while connected (and only then); a refused one never is."""
    sio = aiosio.AsyncServer()
    admin = sio.instrument(auth=CREDENTIALS)
    try:
        handle = await serve(sio)
        log: list[tuple[str, tuple[Any, ...]]] = []
        client = await admin_client(handle.url, log, CREDENTIALS)
        sid = client.get_sid("/admin")
        assert admin.admitted == {sid}
        with pytest.raises(aiosio.exceptions.ConnectionError):
            await admin_client(handle.url, [], {"username": "admin", "password": "no"})
        assert admin.admitted == {sid}
        await client.disconnect()
        async with asyncio.timeout(5):
            while admin.admitted:
                await asyncio.sleep(0.02)
    finally:
        await admin.shutdown()


async def test_a_callable_is_asked_at_every_connect(serve: Any) -> None:
    """With a callable ``auth`` no session id is issued, and none opens the namespace: revoking
    access in the callable locks the admin out at its next connect (python-socketio's rule)."""
    allowed = {"ok": True}
    seen: list[Any] = []

    def check(client_auth: Any) -> bool:
        seen.append(client_auth)
        return allowed["ok"] and isinstance(client_auth, dict) and client_auth.get("password") == "pw"

    sio = aiosio.AsyncServer()
    admin = sio.instrument(auth=check, server_stats_interval=0.2)
    try:
        handle = await serve(sio)
        log: list[tuple[str, tuple[Any, ...]]] = []
        first = await admin_client(handle.url, log, {"password": "pw"})
        async with asyncio.timeout(5):
            while not any(event == "config" for event, _ in log):
                await asyncio.sleep(0.02)
        assert not any(event == "session" for event, _ in log)
        await first.disconnect()

        # Credentials (a dict) do get one; it is not accepted by a callable-auth server.
        assert AdminAuth(CREDENTIALS).issues_sessions and not AdminAuth(check).issues_sessions
        forged = AdminAuth(check)
        assert not forged.has_session({"sessionId": forged.new_session()})

        allowed["ok"] = False
        with pytest.raises(aiosio.exceptions.ConnectionError):
            await admin_client(handle.url, [], {"password": "pw"})
        assert seen == [{"password": "pw"}, {"password": "pw"}]
    finally:
        await admin.shutdown()


def test_session_ids_expire() -> None:
    """A session id opens the namespace for SESSION_SECONDS after it was issued, then never."""
    now = [1000.0]
    auth = AdminAuth(CREDENTIALS, clock=lambda: now[0])
    session = auth.new_session()
    now[0] += auth_module.SESSION_SECONDS - 1
    assert auth.has_session({"sessionId": session})
    now[0] += 2
    assert not auth.has_session({"sessionId": session})
    assert session not in auth._sessions  # forgotten, not kept


def test_credentials_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exactly the expected keys, every value compared with hmac.compare_digest (no early exit on
    the first wrong one); a list of credentials compares against every entry."""
    calls: list[tuple[bytes, bytes]] = []
    real = auth_module.hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth_module.hmac, "compare_digest", counting)
    expected = {"username": "admin", "password": "s3cret"}
    assert same_credentials({"username": "admin", "password": "s3cret"}, expected)
    assert len(calls) == 2
    calls.clear()
    assert not same_credentials({"username": "nobody", "password": "s3cret"}, expected)
    assert len(calls) == 2  # the password was still compared
    calls.clear()
    assert not same_credentials({"username": "admin", "password": "s3cret", "extra": 1}, expected)
    assert not same_credentials({"username": "admin"}, expected)
    assert not same_credentials(None, expected) and not same_credentials(["admin"], expected)
    assert calls == []  # a key set that differs is refused before any value is looked at
    listed = AdminAuth([{"username": "a", "password": "1"}, expected])
    assert asyncio.run(listed.check(dict(expected)))
    assert len(calls) == 4


def test_secret_headers_are_never_shown() -> None:
    """Authorization, Proxy-Authorization and Cookie are shown as ``[redacted]``; other headers
    and the query as sent."""
    shown = public_handshake(
        {
            "headers": {
                "authorization": "Bearer t0k",
                "cookie": "sid=1",
                "proxy-authorization": "x",
                "a": "b",
            },
            "query": {"team": "a"},
        }
    )
    assert shown["headers"] == {
        "authorization": "[redacted]",
        "cookie": "[redacted]",
        "proxy-authorization": "[redacted]",
        "a": "b",
    }
    assert shown["query"] == {"team": "a"}


async def test_all_sockets_hides_a_clients_authorization_header(serve: Any) -> None:
    """End to end: a client's Authorization and Cookie headers do not reach the admin."""
    sio = aiosio.AsyncServer()
    admin = sio.instrument(auth=False)
    try:
        handle = await serve(sio)
        user = aiosio.AsyncClient()
        await user.connect(
            handle.url,
            transports=["websocket"],
            headers={"Authorization": "Bearer very-secret", "Cookie": "session=also-secret"},
        )
        log: list[tuple[str, tuple[Any, ...]]] = []
        client = await admin_client(handle.url, log, None)
        async with asyncio.timeout(5):
            while not any(event == "all_sockets" for event, _ in log):
                await asyncio.sleep(0.02)
        (sockets,) = next(args for event, args in log if event == "all_sockets")
        record = next(s for s in sockets if s["id"] == user.get_sid())
        assert record["handshake"]["headers"]["authorization"] == "[redacted]"
        assert "very-secret" not in repr(sockets) and "also-secret" not in repr(sockets)
        await client.disconnect()
        await user.disconnect()
    finally:
        await admin.shutdown()


def test_arguments_are_python_socketios() -> None:
    """Positional order (sio, auth, namespace, read_only, server_id, mode, interval) as
    python-socketio; empty credentials and a boolean interval are refused at set-up."""
    sio = aiosio.AsyncServer()
    admin = InstrumentedAsyncServer(sio, False, "/ops", True, "edge", "production", 3)
    assert (admin.admin_namespace, admin.read_only, admin.server_id, admin.mode) == (
        "/ops",
        True,
        "edge",
        "production",
    )
    assert admin.server_stats_interval == 3
    admin.uninstrument()
    for empty in ({}, []):
        with pytest.raises(ValueError, match="no credentials"):
            aiosio.AsyncServer().instrument(auth=empty)
    with pytest.raises(TypeError):
        aiosio.AsyncServer().instrument(auth=[{}])
    with pytest.raises(ValueError, match="server_stats_interval"):
        aiosio.AsyncServer().instrument(auth=False, server_stats_interval=True)

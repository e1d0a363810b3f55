"""The admin-ui protocol, spoken to a real npm socket.io-client acting as the Admin UI.

Each test runs an instrumented aiosio server in-process; the admin and the plain clients are npm
socket.io-client sockets in one Node process (tests/interop/node_driver.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from admin_support import (
    CREDENTIALS,
    Instrumented,
    admin_event,
    admin_event_where,
    connect_admin,
    connect_user,
)
from node_driver import NodeDriver

import aiosio

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]

ALL_FEATURES = ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT"]


async def test_admin_gets_config_session_sockets_and_stats(
    node: NodeDriver, instrumented: Instrumented
) -> None:
    """An admin with the right credentials is given a session id, the features, every socket (rooms
    and handshake included, never a client's auth) and server_stats on the interval."""
    _sio, _admin, url = await instrumented()
    user = await connect_user(node, url, "u1", auth={"token": "user-secret"}, query={"team": "a"})
    assert await node.call("u1", "join", "blue") == ["joined"]

    await connect_admin(node, url)
    (session_id,) = await admin_event(node, "session")
    assert isinstance(session_id, str) and len(session_id) >= 16
    (config,) = await admin_event(node, "config")
    assert config == {"supportedFeatures": [*ALL_FEATURES, "AGGREGATED_EVENTS", "ALL_EVENTS"]}

    (sockets,) = await admin_event(node, "all_sockets")
    by_id = {s["id"]: s for s in sockets}
    record = by_id[user]
    assert record["nsp"] == "/"
    assert record["transport"] == "websocket"
    assert set(record["rooms"]) == {user, "blue"}
    assert record["clientId"]
    assert record["handshake"]["query"]["team"] == "a"
    assert record["handshake"]["address"] == "127.0.0.1"
    assert "auth" not in record["handshake"]
    assert "user-secret" not in repr(sockets)
    assert CREDENTIALS["password"] not in repr(sockets)  # the admin's own socket is listed too
    assert any(s["nsp"] == "/admin" for s in sockets)

    (stats,) = await admin_event(node, "server_stats")
    assert set(stats) >= {
        "serverId",
        "hostname",
        "pid",
        "uptime",
        "clientsCount",
        "pollingClientsCount",
        "aggregatedEvents",
        "namespaces",
    }
    assert stats["clientsCount"] == 2
    assert stats["pollingClientsCount"] in (0, 1)  # the admin's connection may still be upgrading
    assert {"name": "/", "socketsCount": 1} in stats["namespaces"]
    assert {"name": "/admin", "socketsCount": 1} in stats["namespaces"]
    (later,) = await admin_event(node, "server_stats")  # the interval keeps them coming
    assert later["uptime"] > stats["uptime"]


async def test_live_events_reach_the_admin(node: NodeDriver, instrumented: Instrumented) -> None:
    """socket_connected, event_received, room_joined, event_sent, socket_updated (upgrade),
    room_left and socket_disconnected, as other clients act."""
    _sio, _admin, url = await instrumented()
    await connect_admin(node, url, transports=["websocket"])
    await admin_event(node, "all_sockets")

    user = await connect_user(node, url, "u1")
    (record, stamp) = await admin_event_where(node, "socket_connected", lambda a: a[0]["id"] == user)
    assert record["nsp"] == "/" and record["rooms"] == [user]
    assert stamp.endswith("Z") and "T" in stamp

    assert await node.call("u1", "join", "blue") == ["joined"]
    assert (await admin_event(node, "event_received"))[:3] == ["/", user, ["join", "blue"]]
    joined = await admin_event_where(node, "room_joined", lambda a: a[0] == "/" and a[1] == "blue")
    assert joined[2] == user

    await node.emit("u1", "shout", "blue", "hello")
    await node.event("event", client="u1", event="shouted")
    sent = await admin_event(node, "event_sent")
    assert sent[:3] == ["/", user, ["shouted", "hello"]]

    upgrading = await connect_user(node, url, "u2", transports=["polling", "websocket"])
    (record, _) = await admin_event_where(node, "socket_connected", lambda a: a[0]["id"] == upgrading)
    assert record["transport"] == "polling"
    (update,) = await admin_event(node, "socket_updated")
    assert update == {"id": upgrading, "nsp": "/", "transport": "websocket"}

    await node.request("disconnect", client="u1")
    left = await admin_event_where(node, "room_left", lambda a: a[1] == "blue")
    assert left[:3] == ["/", "blue", user]
    gone = await admin_event(node, "socket_disconnected")
    assert gone[:3] == ["/", user, "client disconnect"]  # python-socketio's reason


@pytest.mark.parametrize(
    "auth",
    [None, {"username": "admin", "password": "wrong"}, {"username": "admin"}, {"sessionId": "made-up"}],
    ids=["none", "wrong-password", "no-password", "made-up-session"],
)
async def test_bad_credentials_are_refused(node: NodeDriver, instrumented: Instrumented, auth: Any) -> None:
    """Wrong or missing credentials, or a session id the server never issued: CONNECT_ERROR with
    Node's message (the UI shows "Invalid credentials"), and the admin hears nothing."""
    _sio, _admin, url = await instrumented()
    params = {} if auth is None else {"auth": auth}
    await node.connect("intruder", url, nsp="/admin", transports=["websocket"], **params)
    refused = await node.event("connect_error", client="intruder")
    assert refused["message"] == "invalid credentials"
    await asyncio.sleep(0.5)  # two stats intervals: none of them reaches a refused client
    assert not node.unclaimed("event", client="intruder")


async def test_session_id_lets_the_ui_back_in(node: NodeDriver, instrumented: Instrumented) -> None:
    """The session id an admin was given opens the namespace again without credentials (what the
    UI sends after a page reload)."""
    _sio, _admin, url = await instrumented()
    await connect_admin(node, url)
    (session_id,) = await admin_event(node, "session")
    await connect_admin(node, url, client="reloaded", auth={"sessionId": session_id})
    assert await admin_event(node, "config", client="reloaded")
    assert not node.unclaimed("event", client="reloaded", event="session")


@pytest.mark.parametrize("kind", ["list", "callable", "async-callable", "disabled"])
async def test_other_auth_settings(node: NodeDriver, instrumented: Instrumented, kind: str) -> None:
    """python-socketio's other ``auth`` forms: a list of credentials, a callable (plain or async)
    deciding from the client's auth, and False (everyone in, no session id)."""
    seen: list[Any] = []

    def check(auth: Any) -> bool:
        seen.append(auth)
        return isinstance(auth, dict) and auth.get("password") == "s3cret"

    async def check_async(auth: Any) -> bool:
        await asyncio.sleep(0)
        return check(auth)

    setting: Any = {
        "list": [{"username": "other", "password": "x"}, CREDENTIALS],
        "callable": check,
        "async-callable": check_async,
        "disabled": False,
    }[kind]
    _sio, _admin, url = await instrumented(auth=setting)
    await connect_admin(node, url, transports=["websocket"])
    assert await admin_event(node, "config")
    if kind != "disabled":
        await node.connect("intruder", url, nsp="/admin", transports=["websocket"], auth={"password": "no"})
        assert (await node.event("connect_error", client="intruder"))["message"] == "invalid credentials"
    else:
        assert not node.unclaimed("event", client="admin", event="session")
    if "callable" in kind:
        assert seen == [CREDENTIALS, {"password": "no"}]


async def test_operations_act_on_the_sockets(node: NodeDriver, instrumented: Instrumented) -> None:
    """The UI's join, leave, emit and _disconnect, with a sid filter, a room filter and none."""
    sio, _admin, url = await instrumented()
    a = await connect_user(node, url, "a")
    b = await connect_user(node, url, "b")
    await connect_admin(node, url, transports=["websocket"])
    await admin_event(node, "all_sockets")

    await node.emit("admin", "join", "/", "vip", a)
    joined = await admin_event_where(node, "room_joined", lambda args: args[1] == "vip")
    assert joined[:3] == ["/", "vip", a]
    assert "vip" in sio.rooms(a) and "vip" not in sio.rooms(b)

    await node.emit("admin", "join", "/", "everyone", None)
    for _ in range(2):
        await admin_event_where(node, "room_joined", lambda args: args[1] == "everyone")
    assert "everyone" in sio.rooms(a) and "everyone" in sio.rooms(b)

    await node.emit("admin", "emit", "/", "vip", "notice", "for vips", 7)
    got = await node.event("event", client="a", event="notice")
    assert got["args"] == ["for vips", 7]

    await node.emit("admin", "leave", "/", "everyone", "vip")  # the members of room vip leave it
    assert (await admin_event_where(node, "room_left", lambda args: args[1] == "everyone"))[:3] == [
        "/",
        "everyone",
        a,
    ]
    assert "everyone" not in sio.rooms(a) and "everyone" in sio.rooms(b)

    await node.emit("admin", "_disconnect", "/", False, b)
    assert (await node.event("disconnect", client="b"))["reason"] == "io server disconnect"
    gone = await admin_event_where(node, "socket_disconnected", lambda args: args[1] == b)
    assert gone[2] == "server disconnect"  # python-socketio's reason
    assert not node.unclaimed("event", client="b", event="notice")  # the emit went to vip only
    assert not node.unclaimed("disconnect", client="a")


async def test_read_only_refuses_operations(node: NodeDriver, instrumented: Instrumented) -> None:
    """With read_only the UI is told it may do nothing, and join/leave/emit/_disconnect do nothing."""
    sio, _admin, url = await instrumented(read_only=True)
    a = await connect_user(node, url, "a")
    await connect_admin(node, url, transports=["websocket"])
    (config,) = await admin_event(node, "config")
    assert config == {"supportedFeatures": ["AGGREGATED_EVENTS", "ALL_EVENTS"]}
    await admin_event(node, "all_sockets")
    await node.emit("admin", "join", "/", "vip", a)
    await node.emit("admin", "emit", "/", None, "notice", "x")
    await node.emit("admin", "_disconnect", "/", True, None)
    await asyncio.sleep(0.5)  # each would have taken effect within milliseconds (see the test above)
    assert sio.rooms(a) == [a]
    assert not node.unclaimed("event", client="a", event="notice")
    assert not node.unclaimed("disconnect", client="a")
    assert not [
        e for e in node.unclaimed("event", client="admin", event="room_joined") if e["args"][1] == "vip"
    ]


async def test_production_mode_reports_stats_only(node: NodeDriver, instrumented: Instrumented) -> None:
    """Production mode: no all_sockets and no per-socket events, but server_stats with the
    connections counted in aggregatedEvents; operations stay available (Node's choice)."""
    sio, _admin, url = await instrumented(mode="production")
    await connect_admin(node, url, transports=["websocket"])
    (config,) = await admin_event(node, "config")
    assert config == {"supportedFeatures": [*ALL_FEATURES, "AGGREGATED_EVENTS"]}
    a = await connect_user(node, url, "a")
    assert await node.call("a", "join", "blue") == ["joined"]
    await node.request("disconnect", client="a")
    await node.event("disconnect", client="a")

    counted: dict[tuple[str, str | None], int] = {}
    for _ in range(20):
        (stats,) = await admin_event(node, "server_stats")
        for entry in stats["aggregatedEvents"]:
            key = (entry["type"], entry.get("subType"))
            counted[key] = counted.get(key, 0) + entry["count"]
        kinds = {kind for kind, _ in counted}
        if {"rawDisconnection", "packetsIn", "bytesOut"} <= kinds:
            break
    assert counted.get(("rawConnection", None), 0) >= 2, counted  # the admin's connection and a's
    closes = {reason: n for (kind, reason), n in counted.items() if kind == "rawDisconnection"}
    assert sum(closes.values()) == 1 and all(isinstance(r, str) and r for r in closes), counted
    assert counted.get(("packetsIn", None), 0) > 0 and counted.get(("bytesOut", None), 0) > 0, counted
    for name in ("all_sockets", "socket_connected", "socket_disconnected", "room_joined", "event_received"):
        assert not node.unclaimed("event", client="admin", event=name), name
    assert a not in {s for s, _ in sio.manager.get_participants("/", None)}


async def test_bad_operation_arguments_are_ignored(node: NodeDriver, instrumented: Instrumented) -> None:
    """Operations with arguments of the wrong types or counts change nothing and break nothing."""
    sio, _admin, url = await instrumented()
    a = await connect_user(node, url, "a")
    await connect_admin(node, url, transports=["websocket"])
    await admin_event(node, "all_sockets")
    for event, args in [
        ("join", []),
        ("join", ["/"]),
        ("join", [7, "room", None]),
        ("join", ["/", {"not": "a room"}, None]),
        ("join", ["/", "room", ["a", "list"]]),
        ("leave", ["/", "", None]),
        ("_disconnect", ["/", "yes", None]),
        ("_disconnect", ["/"]),
        ("emit", ["/", None]),
        ("emit", ["/", None, "disconnect"]),
        ("emit", ["/", 12, "x"]),
    ]:
        await node.emit("admin", event, *args)
    await node.emit("admin", "join", "/", "after", a)  # a good one still works afterwards
    assert (await admin_event_where(node, "room_joined", lambda x: x[1] == "after"))[2] == a
    assert sorted(sio.rooms(a)) == sorted([a, "after"])
    assert not node.unclaimed("disconnect", client="a")


def test_instrument_arguments_are_checked() -> None:
    """auth must be given (python-socketio's rule); bad modes, namespaces and intervals are refused."""
    sio = aiosio.AsyncServer()
    with pytest.raises(ValueError, match="auth must be specified"):
        sio.instrument()
    with pytest.raises(ValueError, match="mode"):
        sio.instrument(auth=False, mode="verbose")
    with pytest.raises(ValueError, match="namespace"):
        sio.instrument(auth=False, namespace="admin")
    with pytest.raises(ValueError, match="server_stats_interval"):
        sio.instrument(auth=False, server_stats_interval=0)
    with pytest.raises(TypeError, match="auth"):
        sio.instrument(auth="password")
    assert len(sio.observers) == 0  # nothing was half set up

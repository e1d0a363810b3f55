"""Channel names, Node's publish and subscribe rules, ids and dates."""

from __future__ import annotations

import datetime as dt
import itertools
import re

import pytest

from aiosio.protocol import cluster as c

SID = "E3BeWrm8E497DhdZAAAA"


def test_classic_channel_names() -> None:
    ch = c.ClassicChannels("socket.io", "/", "LGuaOj")
    assert ch.broadcast == "socket.io#/#"
    assert ch.pattern == "socket.io#/#*"
    assert ch.request == "socket.io-request#/#"
    assert ch.response == "socket.io-response#/#"
    assert ch.specific_response == "socket.io-response#/#LGuaOj#"
    assert ch.response_for("KpS17X") == "socket.io-response#/#KpS17X#"
    assert ch.room("room1") == "socket.io#/#room1#"
    assert ch.room(5) == "socket.io#/#5#"
    admin = c.ClassicChannels("app", "/admin", "u")
    assert (admin.broadcast, admin.request) == ("app#/admin#", "app-request#/admin#")
    with pytest.raises(TypeError):
        ch.room(True)


def test_classic_room_of() -> None:
    ch = c.ClassicChannels("socket.io", "/", "u")
    assert ch.room_of("socket.io#/#") == ""
    assert ch.room_of("socket.io#/#room1#") == "room1"
    assert ch.room_of(f"socket.io#/#{SID}#") == SID
    assert ch.room_of("socket.io#/#a#b#") == "a#b"
    assert ch.room_of("socket.io#/admin#") is None
    assert ch.room_of("socket.io#/admin#room1#") is None
    assert ch.room_of("socket.io-request#/#") is None
    assert ch.room_of("socket.io#/#room1") is None


def test_classic_channel_for_broadcast_is_the_room_channel_only_for_one_room() -> None:
    ch = c.ClassicChannels("socket.io", "/", "u")
    assert ch.channel_for_broadcast(c.WireOpts()) == "socket.io#/#"
    assert ch.channel_for_broadcast(c.WireOpts(("room1",))) == "socket.io#/#room1#"
    assert ch.channel_for_broadcast(c.WireOpts(("room1", "room1"))) == "socket.io#/#room1#"
    assert ch.channel_for_broadcast(c.WireOpts(("room1", "room2"))) == "socket.io#/#"
    assert ch.channel_for_broadcast(c.WireOpts((), ("room1",))) == "socket.io#/#"


def test_sharded_channel_names() -> None:
    ch = c.ShardedChannels("socket.io", "/", "ee140215db15dd2a")
    assert ch.main == "socket.io#/#"
    assert ch.own == "socket.io#/#ee140215db15dd2a#"
    assert ch.room("room1") == "socket.io#/#room1#"
    assert ch.response_for("9830a4e6ab966172") == "socket.io#/#9830a4e6ab966172#"


def _broadcast(rooms: tuple[c.Room, ...], request_id: str | None = None) -> c.ClusterBroadcast:
    return c.ClusterBroadcast("u", "/", c.WirePacket("/", ["ev"]), c.WireOpts(rooms), request_id)


@pytest.mark.parametrize(
    ("rooms", "request_id", "static", "dynamic", "private"),
    [
        ((), None, "main", "main", "main"),
        (("room1",), None, "main", "room1", "room1"),
        ((SID,), None, "main", "main", SID),  # a sid-looking room stays on main in dynamic mode
        ((7,), None, "main", "7", "7"),  # a number is not a socket id
        (("room1", "room2"), None, "main", "main", "main"),
        (("room1",), "rid", "main", "main", "main"),  # ack broadcasts: serverCount counts every node
    ],
)
def test_sharded_publish_rule(
    rooms: tuple[c.Room, ...], request_id: str | None, static: str, dynamic: str, private: str
) -> None:
    ch = c.ShardedChannels("socket.io", "/", "u")
    message = _broadcast(rooms, request_id)
    for mode, want in (("static", static), ("dynamic", dynamic), ("dynamic-private", private)):
        expected = ch.main if want == "main" else ch.room(want if want != "7" else 7)
        assert ch.channel_for(message, mode) == expected  # type: ignore[arg-type]


def test_sharded_other_messages_go_to_main_and_responses_are_refused() -> None:
    ch = c.ShardedChannels("socket.io", "/", "u")
    opts = c.WireOpts(("room1",))
    assert ch.channel_for(c.ClusterSocketsJoin("u", "/", opts, ("r",)), "dynamic") == ch.main
    assert ch.channel_for(c.ClusterFetchSockets("u", "/", opts, "rid"), "dynamic-private") == ch.main
    assert ch.channel_for(c.ClusterHeartbeat("u", "/"), "static") == ch.main
    with pytest.raises(ValueError, match="response"):
        ch.channel_for(c.ClusterBroadcastAck("u", "/", "rid", None), "dynamic")
    with pytest.raises(ValueError, match="mode"):
        ch.channel_for(_broadcast(()), "sometimes")  # type: ignore[arg-type]


def test_sharded_subscriptions_match_the_publish_rule() -> None:
    ch = c.ShardedChannels("socket.io", "/", "u")
    for room, mode in itertools.product(["room1", SID, 7, "x" * 19, "x" * 21], c.SubscriptionMode.__args__):
        published_there = ch.channel_for(_broadcast((room,)), mode) == ch.room(room)
        assert ch.subscribes_room(room, mode) == published_there
    assert not ch.subscribes_room("room1", "static")
    assert ch.subscribes_room(SID, "dynamic-private")
    assert not ch.subscribes_room(SID, "dynamic")


def test_uids() -> None:
    assert re.fullmatch(r"[A-Za-z0-9_-]{6}", c.classic_uid())
    assert re.fullmatch(r"[0-9a-f]{16}", c.hex_uid())
    assert c.classic_uid(lambda n: bytes(range(n))) == "ABCDEF"
    assert c.classic_uid(lambda n: bytes([62, 63, 64, 126, 127, 255])) == "-_A-__"  # byte % 64, as uid2 does
    assert c.hex_uid(lambda n: b"\x00\xff" * (n // 2)) == "00ff00ff00ff00ff"
    assert len({c.classic_uid() for _ in range(100)}) == 100


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (1796114071.434, "Tue Dec 01 2026 08:34:31"),  # the captures' handshake time
        (1796114120.701, "Tue Dec 01 2026 08:35:20"),
        (0, "Thu Jan 01 1970 00:00:00"),
        (-0.5, "Wed Dec 31 1969 23:59:59"),
        (-0.0005, "Thu Jan 01 1970 00:00:00"),  # String(new Date(-0.5)): the ms truncate toward 0
        (-62135596800, "Mon Jan 01 0001 00:00:00"),
        (951782400, "Tue Feb 29 2000 00:00:00"),
    ],
)
def test_js_date_string(seconds: float, text: str) -> None:
    assert c.js_date_string(seconds) == text + " GMT+0000 (Coordinated Universal Time)"


def test_js_date_string_refuses_what_is_not_a_date() -> None:
    for bad in (float("nan"), float("inf"), 1e20):
        with pytest.raises(ValueError):
            c.js_date_string(bad)


def test_js_iso_string() -> None:
    when = dt.datetime(2026, 12, 1, 9, 34, 31, 434999, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert c.js_iso_string(when) == "2026-12-01T08:34:31.434Z"

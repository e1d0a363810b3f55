"""The workers' hub (in-process, on a real Unix socket) and its frame codec."""

from __future__ import annotations

import asyncio
import struct

import pytest

from aiosio.workers import hubwire
from aiosio.workers.hub import Hub
from aiosio.workers.hubwire import HubWireError, Kind
from aiosio.workers.routing import parse_tag, worker_tag

pytestmark = pytest.mark.timeout(20)


class Peer:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def frame(self) -> tuple[Kind, bytes]:
        async with asyncio.timeout(5):
            length = hubwire.frame_length(await self.reader.readexactly(4))
            return hubwire.split(await self.reader.readexactly(length))

    async def count(self) -> int:
        kind, body = await self.frame()
        assert kind is Kind.COUNT
        return hubwire.parse_count(body)

    async def closed(self) -> bool:
        async with asyncio.timeout(5):
            return await self.reader.read() == b""


async def join(path: str, uid: str, channel: str = "c") -> Peer:
    reader, writer = await asyncio.open_unix_connection(path)
    writer.write(hubwire.hello(uid, channel))
    return Peer(reader, writer)


async def test_relay_and_counts(hub: Hub) -> None:
    a = await join(hub.path, "a")
    assert await a.count() == 1
    b = await join(hub.path, "b")
    assert (await a.count(), await b.count()) == (2, 2)
    other = await join(hub.path, "x", channel="another server")
    assert await other.count() == 1
    a.writer.write(hubwire.frame(Kind.PUBLISH, b"to everyone else"))
    assert await b.frame() == (Kind.DELIVER, b"to everyone else")
    b.writer.write(hubwire.send_to("a", b"to a only"))
    assert await a.frame() == (Kind.DELIVER, b"to a only")
    b.writer.write(hubwire.send_to("nobody", b"lost"))
    a.writer.write(hubwire.frame(Kind.PUBLISH, b"next"))
    assert await b.frame() == (Kind.DELIVER, b"next")  # not its own, not the lost one
    b.writer.close()
    assert await a.count() == 1
    other.writer.write(hubwire.frame(Kind.PUBLISH, b"other channel"))
    a.writer.write(hubwire.frame(Kind.PUBLISH, b"alone"))
    await asyncio.sleep(0.05)
    assert a.reader.at_eof() is False and len(a.reader._buffer) == 0


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\x00\x00\x00",  # empty frame
        struct.pack(">I", hubwire.MAX_FRAME + 1),  # oversized
        hubwire.frame(Kind.PUBLISH, b"x"),  # no HELLO first
        struct.pack(">I", 2) + b"\x63x",  # unknown kind
        hubwire.frame(Kind.HELLO, b"\x09ab"),  # truncated uid
        hubwire.frame(Kind.HELLO, b"\x00"),  # empty uid
    ],
)
async def test_bad_frames_close_that_connection_only(hub: Hub, garbage: bytes) -> None:
    a = await join(hub.path, "a")
    assert await a.count() == 1
    reader, writer = await asyncio.open_unix_connection(hub.path)
    writer.write(garbage)
    async with asyncio.timeout(5):
        assert await reader.read() == b""
    writer.close()
    b = await join(hub.path, "b")  # the hub still serves
    assert (await a.count(), await b.count()) == (2, 2)


async def test_a_second_hello_as_the_same_uid_is_refused(hub: Hub) -> None:
    a = await join(hub.path, "a")
    assert await a.count() == 1
    twin = await join(hub.path, "a")
    assert await twin.closed()
    a.writer.write(hubwire.frame(Kind.PUBLISH, b"still here"))
    assert hub.members("c") == 1


def test_codec_rejects_bad_values() -> None:
    with pytest.raises(HubWireError):
        hubwire.parse_count(b"\x00")
    with pytest.raises(HubWireError):
        hubwire.parse_send(b"")
    with pytest.raises(HubWireError):
        hubwire.hello("u" * 256, "c")
    with pytest.raises(HubWireError):
        hubwire.parse_hello(b"\x01a\xff")  # channel not UTF-8
    assert hubwire.parse_send(hubwire.send_to("uid", b"m")[5:]) == ("uid", b"m")
    assert hubwire.parse_hello(hubwire.hello("uid", "chan")[5:]) == ("uid", "chan")


@pytest.mark.parametrize(
    ("sid", "owner"),
    [
        ("w0.abc", 0),
        ("w12.abc", 12),
        ("w.abc", None),
        ("w1abc", None),
        ("x1.abc", None),
        ("w1" + "0" * 20 + ".x", None),  # no absurd ids (nor paths built from them)
        ("w../x", None),
        ("", None),
    ],
)
def test_worker_tags(sid: str, owner: int | None) -> None:
    assert parse_tag(sid) == owner
    if owner is not None:
        assert parse_tag(worker_tag(owner) + "rest") == owner

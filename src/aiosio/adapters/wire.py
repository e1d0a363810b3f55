"""Between the adapter core's types and the Node cluster wire's, for every driver (Redis classic,
Redis sharded, the workers' hub): a :class:`~aiosio.adapters.base.Selector` is Node's ``{rooms,
except, flags}``, a :class:`~aiosio.adapters.base.SocketInfo` is a fetched socket; and the one place
a driver reports a message it dropped."""

from __future__ import annotations

import logging
from typing import Any

from ..protocol.cluster import Room, WireOpts, WireSocket
from .base import Selector, SocketInfo


def to_opts(selector: Selector, *, ack_timeout: bool = False) -> WireOpts:
    """Node's options for ``selector`` (``timeout`` in ms only for an ack broadcast)."""
    flags: dict[str, Any] = {}
    if selector.volatile:
        flags["volatile"] = True
    if selector.sids:
        flags["expectSingleResponse"] = True  # what Node's RemoteSocket operations send
    if ack_timeout and selector.timeout is not None:
        flags["timeout"] = round(selector.timeout * 1000)
    return WireOpts(tuple(selector.rooms or ()), tuple(selector.exclude), flags)


def _names(rooms: tuple[Room, ...]) -> tuple[Any, ...]:
    # A numeric room arrives from Node as a number: a socket may have joined it under either form.
    if all(isinstance(room, str) for room in rooms):
        return rooms
    out: list[Any] = []
    for room in rooms:
        out.append(room)
        if not isinstance(room, str):
            out.append(str(room))
    return tuple(out)


def to_selector(opts: WireOpts) -> Selector:
    """The selector of a received operation (``rooms`` empty: the whole namespace).

    ``flags.expectSingleResponse`` (Node's RemoteSocket, and what a sid selector sends) makes the
    rooms socket ids: only the sockets with those ids are selected, never a room of that name.
    """
    flags = opts.flags
    timeout = flags.get("timeout")
    return Selector(
        _names(opts.rooms) if opts.rooms else None,
        _names(opts.except_),
        volatile=flags.get("volatile") is True,
        timeout=timeout / 1000
        if isinstance(timeout, (int, float)) and not isinstance(timeout, bool)
        else None,
        sids=flags.get("expectSingleResponse") is True and bool(opts.rooms),
    )


def to_wire_socket(info: SocketInfo) -> WireSocket:
    """A local socket as a fetch answer carries it. No session yet (``data`` None) goes out as
    ``{}``, Node's default ``socket.data``: Node code reading ``socket.data.x`` must not meet null."""
    data = {} if info.data is None else info.data
    return WireSocket(info.sid, dict(info.handshake), tuple(info.rooms), data)


def from_wire_socket(namespace: str, socket: WireSocket) -> SocketInfo:
    """A socket another node reported (no Engine.IO sid: it is not connected here). ``{}`` (Node's
    default ``socket.data``, and what a session never set goes out as) comes back as None, as this
    node reports its own sockets without a session."""
    rooms = tuple(room if isinstance(room, str) else str(room) for room in socket.rooms)
    data = None if socket.data == {} else socket.data
    return SocketInfo(socket.id, namespace, rooms, None, data, socket.handshake)


class DropLog:
    """Counts dropped messages and logs the first ones, then one in a thousand: a flood of bad
    messages costs a counter each, not a log line each."""

    __slots__ = ("count", "logger")

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.count = 0

    def __call__(self, channel: str, why: object) -> None:
        self.count += 1
        if self.count <= 10 or self.count % 1000 == 0:
            self.logger.warning("dropped a cluster message on %s (%d so far): %s", channel, self.count, why)

"""An emitter for processes that are not servers (a worker, a cron job, a web view): it publishes
to a cluster of aiosio and Node socket.io servers over Redis, in the wire format of
``@socket.io/redis-emitter`` 5.x (uid ``"emitter"``), and never subscribes, so it is never counted
as a server."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from ...protocol.cluster import (
    EMITTER_UID,
    ClassicChannels,
    RemoteDisconnectRequest,
    RemoteJoinRequest,
    RemoteLeaveRequest,
    ServerSideEmitRequest,
    WireOpts,
    WirePacket,
    encode_broadcast,
    encode_request,
)
from ..base import Selector
from ._link import RedisLink

default_logger = logging.getLogger("aiosio.emitter")


class RedisEmitter:
    """Emit to the sockets of a cluster from anywhere with access to its Redis.

    What it publishes is byte for byte what ``@socket.io/redis-emitter`` publishes: broadcasts and
    server-side emits carry the uid ``"emitter"``, socketsJoin/Leave and disconnectSockets no uid.

    ``key`` is the cluster's channel prefix (``AsyncRedisManager(channel=...)``, Node's ``key``).
    Selection arguments are python-socketio's: ``to`` (a sid, a room, or a list of them; None:
    everyone; an empty list: nobody, nothing is published), ``skip_sid`` (sids or rooms to leave
    out), ``namespace``. Messages are published in order, without waiting; :meth:`close` (or
    leaving ``async with``) waits until they went out.
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        key: str = "socket.io",
        *,
        redis_options: dict[str, Any] | None = None,
        link: RedisLink | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.key = key
        self.logger = logger or default_logger
        self.link = link or RedisLink(
            url, on_message=_ignore, redis_options=redis_options, logger=self.logger
        )
        self._started = False

    async def _ready(self) -> RedisLink:
        if not self._started:
            self._started = True
            await self.link.start()
        return self.link

    async def __aenter__(self) -> RedisEmitter:
        await self._ready()
        return self

    async def __aexit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Wait (a few seconds at most) until what was emitted went out, then disconnect."""
        if self._started:
            await self.link.close()

    def _channels(self, namespace: str | None) -> ClassicChannels:
        return ClassicChannels(self.key, namespace or "/", EMITTER_UID)

    async def emit(
        self,
        event: str,
        *args: Any,
        to: Any = None,
        skip_sid: Any = None,
        namespace: str | None = None,
        volatile: bool = False,
    ) -> None:
        """Emit ``event`` with ``args`` to the selected sockets of every server."""
        selector = Selector.of(to, skip_sid)
        if selector.rooms == ():
            return  # an empty target list selects nobody (on the wire, no rooms means everyone)
        link = await self._ready()
        flags = {"volatile": True} if volatile else {}
        opts = WireOpts(tuple(selector.rooms or ()), selector.exclude, flags)
        ch = self._channels(namespace)
        packet = WirePacket(ch.nsp, [event, *args])
        link.publish(
            ch.channel_for_broadcast(opts), encode_broadcast(EMITTER_UID, packet, opts, emitter=True)
        )

    async def sockets_join(
        self, rooms: str | list[str], to: Any = None, skip_sid: Any = None, namespace: str | None = None
    ) -> None:
        """Put the selected sockets of every server in ``rooms``."""
        opts = _opts(to, skip_sid)
        if opts is None:
            return
        link = await self._ready()
        names = (rooms,) if isinstance(rooms, str) else tuple(rooms)
        request = RemoteJoinRequest(None, opts, names)
        link.publish(self._channels(namespace).request, encode_request(request))

    async def sockets_leave(
        self, rooms: str | list[str], to: Any = None, skip_sid: Any = None, namespace: str | None = None
    ) -> None:
        """Take the selected sockets of every server out of ``rooms``."""
        opts = _opts(to, skip_sid)
        if opts is None:
            return
        link = await self._ready()
        names = (rooms,) if isinstance(rooms, str) else tuple(rooms)
        request = RemoteLeaveRequest(None, opts, names)
        link.publish(self._channels(namespace).request, encode_request(request))

    async def disconnect_sockets(
        self, to: Any = None, skip_sid: Any = None, namespace: str | None = None, close: bool = False
    ) -> None:
        """Disconnect the selected sockets of every server (``close``: their connections too)."""
        opts = _opts(to, skip_sid)
        if opts is None:
            return
        link = await self._ready()
        request = RemoteDisconnectRequest(None, opts, close)
        link.publish(self._channels(namespace).request, encode_request(request))

    async def server_side_emit(self, event: str, *args: Any, namespace: str | None = None) -> None:
        """Send a server-side event to every server (their ``on_server_event`` handlers); no
        answers (an emitter cannot receive them)."""
        link = await self._ready()
        request = ServerSideEmitRequest(EMITTER_UID, [event, *args])
        link.publish(self._channels(namespace).request, encode_request(request))


def _opts(to: Any, skip_sid: Any) -> WireOpts | None:
    """The wire options of a selection; None when it selects nobody (an empty target list)."""
    selector = Selector.of(to, skip_sid)
    if selector.rooms == ():
        return None
    return WireOpts(tuple(selector.rooms or ()), selector.exclude)


def _ignore(_channel: str, _payload: bytes) -> None:
    return None

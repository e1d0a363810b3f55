"""The supervisor's hub: relays cluster messages between the workers of one machine.

Each worker's :class:`~aiosio.workers.local_driver.LocalDriver` connects to the hub's Unix socket
and joins a channel (one per Socket.IO server of the app). A PUBLISH goes to every other member of
the channel, a SEND to one member; each member is told the channel's member count (its server
count) whenever it changes. The hub never decodes the messages it relays (see
:mod:`~aiosio.workers.hubwire`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from . import hubwire
from .hubwire import HubWireError, Kind

__all__ = ["Hub"]

logger = logging.getLogger("aiosio.workers")

#: A member whose unsent data passes this many bytes gets nothing more until it drains (a frozen
#: worker must not make the hub's memory grow without bound); what it misses is counted and logged.
MAX_BACKLOG = 256 * 1024 * 1024


@dataclass(eq=False)
class _Member:
    uid: str
    channel: str
    writer: asyncio.StreamWriter
    dropped: int = 0

    def write(self, data: bytes) -> None:
        transport = self.writer.transport
        if transport.is_closing():
            return
        if transport.get_write_buffer_size() > MAX_BACKLOG:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning("worker member %s is not reading: %d messages dropped", self.uid, self.dropped)
            return
        self.writer.write(data)


@dataclass(eq=False)
class _Channel:
    members: dict[str, _Member] = field(default_factory=dict)

    def announce(self) -> None:
        data = hubwire.count(len(self.members))
        for member in self.members.values():
            member.write(data)


class Hub:
    """A relay on the Unix socket ``path``: ``await hub.start()``, ``await hub.close()``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._server: asyncio.AbstractServer | None = None
        self._channels: dict[str, _Channel] = {}
        self._connections: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        """Listen."""
        self._server = await asyncio.start_unix_server(self._serve, self.path)

    async def close(self) -> None:
        """Stop listening and drop every member."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()  # each reader then ends as if the worker had left
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=5)

    def members(self, channel: str) -> int:
        """How many workers are in ``channel`` now."""
        found = self._channels.get(channel)
        return len(found.members) if found else 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self._writers.add(writer)
        member: _Member | None = None
        try:
            while True:
                length = hubwire.frame_length(await reader.readexactly(4))
                kind, body = hubwire.split(await reader.readexactly(length))
                if member is None:
                    if kind is not Kind.HELLO:
                        raise HubWireError("the first frame must be HELLO")
                    uid, name = hubwire.parse_hello(body)
                    channel = self._channels.setdefault(name, _Channel())
                    if uid in channel.members:
                        raise HubWireError(f"uid {uid} is already in the channel")
                    member = _Member(uid, name, writer)
                    channel.members[uid] = member
                    channel.announce()
                elif kind is Kind.PUBLISH:
                    data = hubwire.frame(Kind.DELIVER, body)
                    for other in self._channels[member.channel].members.values():
                        if other is not member:
                            other.write(data)
                elif kind is Kind.SEND:
                    uid, message = hubwire.parse_send(body)
                    target = self._channels[member.channel].members.get(uid)
                    if target is not None:
                        target.write(hubwire.frame(Kind.DELIVER, message))
                else:
                    raise HubWireError(f"a worker does not send {kind.name}")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the worker left (or died)
        except HubWireError as exc:
            logger.warning("closing a hub connection: %s", exc)
        finally:
            self._connections.discard(task)
            self._writers.discard(writer)
            if member is not None:
                channel = self._channels[member.channel]
                channel.members.pop(member.uid, None)
                channel.announce()
            writer.close()

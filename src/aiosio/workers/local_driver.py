"""``LocalDriver``: the workers of one machine as one cluster, through the supervisor's hub.

A :class:`~aiosio.adapters.cluster.ClusterDriver` with no external service: each worker's
:class:`~aiosio.adapters.cluster.ClusterAdapter` publishes the sharded ClusterAdapter messages
(:mod:`aiosio.protocol.cluster`, the format Node's sharded Redis adapter uses, already specified and
validated) over a Unix socket to the hub (:mod:`~aiosio.workers.hub`), which relays them to the
other workers of the same channel, or to one worker for answers. The server count is the number of
workers in the channel, which the hub pushes on every change, so asking for it costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..adapters.message_driver import MessageDriver
from ..adapters.wire import DropLog
from ..protocol.cluster import (
    ClusterMessage,
    ClusterMessageError,
    decode_cluster,
    hex_uid,
)
from . import hubwire
from .hubwire import HubWireError, Kind

if TYPE_CHECKING:
    from ..adapters.cluster import ClusterAdapter

__all__ = ["LocalDriver"]

default_logger = logging.getLogger("aiosio.workers")

#: Past this many unsent bytes towards the hub, messages are dropped (and counted) rather than
#: queued: the hub is stuck, and memory must stay bounded.
MAX_BACKLOG = 256 * 1024 * 1024


class LocalDriver(MessageDriver):
    """A cluster driver over the hub at ``hub_path``, in the hub channel ``channel`` (one channel
    per Socket.IO server of the app, so two servers of one app stay apart).

    ``on_lost`` is called if the hub goes away while the driver is open (the supervisor is gone).
    """

    def __init__(
        self,
        hub_path: str,
        channel: str = "",
        *,
        on_lost: Callable[[], None] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.uid = hex_uid()
        self.hub_path = hub_path
        self.channel = channel
        self.on_lost = on_lost
        self.logger = logger or default_logger
        self._adapter: ClusterAdapter | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._count = 1
        self._counted = asyncio.Event()
        self._closing = False
        self._dropped_out = 0
        self.dropped = DropLog(self.logger)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, adapter: ClusterAdapter) -> None:
        """Connect to the hub and join the channel (returns once the hub counted this worker)."""
        self._adapter = adapter
        reader, writer = await asyncio.open_unix_connection(self.hub_path)
        self._writer = writer
        writer.write(hubwire.hello(self.uid, self.channel))
        self._reader_task = asyncio.ensure_future(self._read(reader))
        async with asyncio.timeout(10):
            await self._counted.wait()

    async def close(self) -> None:
        """Leave the hub."""
        self._closing = True
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        task = self._reader_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def open_namespace(self, namespace: str) -> None:
        """Nothing to do: the hub relays every namespace of the channel."""

    def new_request_id(self) -> str:
        """16 hex characters, as the sharded adapter's."""
        return hex_uid()

    async def server_count(self, namespace: str) -> int:
        """The workers in the channel (this one included), as the hub last said."""
        return max(1, self._count)

    # -- the hub connection ------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        writer = self._writer
        if writer is None or writer.transport.is_closing():
            return
        if writer.transport.get_write_buffer_size() > MAX_BACKLOG:
            self._dropped_out += 1
            if self._dropped_out == 1 or self._dropped_out % 1000 == 0:
                self.logger.warning("the hub is not reading: %d messages dropped", self._dropped_out)
            return
        writer.write(data)

    def _publish(self, message: ClusterMessage, payload: bytes) -> None:
        self._write(hubwire.frame(Kind.PUBLISH, payload))

    def _respond(self, origin: str, namespace: str, payload: bytes) -> None:
        if origin:
            self._write(hubwire.send_to(origin, payload))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                length = hubwire.frame_length(await reader.readexactly(4))
                kind, body = hubwire.split(await reader.readexactly(length))
                if kind is Kind.COUNT:
                    self._count = hubwire.parse_count(body)
                    self._counted.set()
                elif kind is Kind.DELIVER:
                    self._on_message(body)
                else:
                    raise HubWireError(f"the hub does not send {kind.name}")
        except (asyncio.IncompleteReadError, ConnectionError, HubWireError) as exc:
            if not self._closing:
                self.logger.error("lost the connection to the workers' hub: %s", exc or "closed")
                if self.on_lost is not None:
                    self.on_lost()

    # -- outbound (the operations themselves: MessageDriver) -----------------------------------

    def room_created(self, namespace: str, room: str) -> None:
        """Nothing: the hub relays every message of the channel."""

    def room_deleted(self, namespace: str, room: str) -> None:
        """Nothing."""

    # -- inbound -----------------------------------------------------------------------------

    def _on_message(self, payload: bytes) -> None:
        adapter = self._adapter
        if adapter is None:
            return
        try:
            message = decode_cluster(payload)
            if message.uid != self.uid:
                self.dispatch(adapter, message)
        except ClusterMessageError as exc:
            self.dropped(f"hub channel {self.channel!r}", exc)
        except Exception as exc:
            self.dropped(f"hub channel {self.channel!r}", f"{type(exc).__name__}: {exc}")
            self.logger.debug("cluster message handling failed", exc_info=True)

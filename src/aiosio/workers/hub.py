"""The supervisor's hub: relays cluster messages between the workers of one machine.

Each worker's :class:`~aiosio.workers.local_driver.LocalDriver` connects to the hub's Unix socket
and joins a channel (one per Socket.IO server of the app). A PUBLISH goes to every other member of
the channel, a SEND to one member; each member is told the channel's member count (its server
count) whenever it changes. The hub never decodes the messages it relays (see
:mod:`~aiosio.workers.hubwire`).

For connection-state recovery it also keeps each channel's log (:mod:`~aiosio.workers.hub_log`):
a LOG gets the next offset, answered to its sender and relayed to the others as LOGGED; sessions
are written through (SAVE, DROP), a worker that leaves (or dies) turns its live sessions into lost
ones, and a RESTORE is answered from the log. The hub lives in the supervisor, so the log and the
sessions outlive every worker. A malformed frame closes the connection that sent it (logged),
never the hub; a well-formed one beyond the wire's limits is refused (logged) and the connection
stays (see :mod:`~aiosio.workers.hubwire`).

A member that does not read (its unsent data passes :data:`MAX_BACKLOG`) gets nothing more: in a
channel without a log, what it misses is counted and logged; in a channel with a log (recovery
on), it is disconnected instead, since a relayed message it missed would be a silent gap for its
clients (their later offsets pass it): its sessions become lost ones, and its clients recover
exactly on another worker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..recovery.options import RecoveryOptions
from . import hubwire
from .hub_log import ChannelLog, HubSession
from .hubwire import HubLimitError, HubWireError, Kind

__all__ = ["Hub"]

logger = logging.getLogger("aiosio.workers")

#: A member whose unsent data passes this many bytes gets nothing more until it drains (a frozen
#: worker must not make the hub's memory grow without bound); what it misses is counted and logged.
#: An answer to its own request is never dropped, nor anything in a channel with a log: a member
#: that cannot take one is disconnected.
MAX_BACKLOG = 256 * 1024 * 1024
#: The most bytes of missed messages one RESTORED answer carries (more: the restore is refused).
MAX_RESTORE_BYTES = hubwire.MAX_FRAME - 1024 * 1024


@dataclass(eq=False)
class _Member:
    uid: str
    channel: str
    writer: asyncio.StreamWriter
    dropped: int = 0

    def write(self, data: bytes, exact: bool = False) -> None:
        """Send ``data``; past :data:`MAX_BACKLOG` it is dropped (counted), or with ``exact``
        (nothing may be lost) the member is disconnected."""
        transport = self.writer.transport
        if transport.is_closing():
            return
        if transport.get_write_buffer_size() > MAX_BACKLOG:
            if exact:
                logger.warning(
                    "worker member %s is not reading: disconnecting it (nothing may be lost)", self.uid
                )
                transport.abort()
                return
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning("worker member %s is not reading: %d messages dropped", self.uid, self.dropped)
            return
        self.writer.write(data)

    def answer(self, data: bytes) -> None:
        """An answer to this member's request: sent, or the member is disconnected (answers are
        matched to requests in order, so none may be lost)."""
        self.write(data, exact=True)


@dataclass(eq=False)
class _Channel:
    members: dict[str, _Member] = field(default_factory=dict)

    #: The channel has a log (recovery on): nothing relayed may be dropped.
    exact: bool = False

    def announce(self) -> None:
        data = hubwire.count(len(self.members))
        for member in self.members.values():
            member.write(data, self.exact)

    def relay(self, data: bytes, sender: _Member) -> None:
        """``data`` for every member but ``sender``."""
        exact = self.exact
        for other in self.members.values():
            if other is not sender:
                other.write(data, exact)


class Hub:
    """A relay on the Unix socket ``path``: ``await hub.start()``, ``await hub.close()``."""

    def __init__(self, path: str, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._server: asyncio.AbstractServer | None = None
        self._channels: dict[str, _Channel] = {}
        #: channel -> its recovery log (made by the first RECOVERY or LOG; kept when every member
        #: left: the sessions of dead workers must outlive them).
        self.logs: dict[str, ChannelLog] = {}
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
                    channel = self._channels.setdefault(name, _Channel(exact=name in self.logs))
                    if uid in channel.members:
                        raise HubWireError(f"uid {uid} is already in the channel")
                    member = _Member(uid, name, writer)
                    channel.members[uid] = member
                    found = self.logs.get(name)
                    if found is not None:  # where the log is: a session starting now starts there
                        member.write(hubwire.position(found.position()))
                    channel.announce()
                elif kind in _RECOVERY_KINDS:
                    self._recovery(member, kind, body)
                elif kind is Kind.PUBLISH:
                    self._channels[member.channel].relay(hubwire.frame(Kind.DELIVER, body), member)
                elif kind is Kind.SEND:
                    uid, message = hubwire.parse_send(body)
                    channel = self._channels[member.channel]
                    target = channel.members.get(uid)
                    if target is not None:
                        target.write(hubwire.frame(Kind.DELIVER, message), channel.exact)
                else:
                    raise HubWireError(f"a worker does not send {kind.name}")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the worker left (or died)
        except HubWireError as exc:
            logger.warning("closing a hub connection: %s", exc)
        except Exception:  # a bug must cost one connection, never the hub
            logger.exception("closing a hub connection after an unexpected error")
        finally:
            self._connections.discard(task)
            self._writers.discard(writer)
            if member is not None:
                channel = self._channels[member.channel]
                channel.members.pop(member.uid, None)
                channel.announce()
                log = self.logs.get(member.channel)
                if log is not None:
                    log.owner_left(member.uid, self._clock())
            writer.close()

    def _log(self, channel: str) -> ChannelLog:
        log = self.logs.get(channel)
        if log is None:
            log = self.logs[channel] = ChannelLog()
            found = self._channels.get(channel)
            if found is not None:
                found.exact = True
        return log

    def _recovery(self, member: _Member, kind: Kind, body: bytes) -> None:
        """A recovery frame from ``member`` (raises HubWireError for a malformed one; one beyond
        the limits is refused here)."""
        log = self._log(member.channel)
        try:
            self._recover(member, log, kind, body)
        except HubLimitError as exc:
            logger.warning("refused from worker member %s: %s", member.uid, exc)
            if kind is Kind.LOG:
                member.answer(hubwire.offset(None))  # not logged: the broadcast fails there
            elif kind is Kind.RESTORE:
                log.refuse()
                member.answer(hubwire.restored(None))
            elif kind is Kind.SAVE and exc.pid is not None:
                log.drop(member.uid, exc.pid)  # an older copy must not be restored instead
            # DROP of a pid too long to be kept, RECOVERY beyond the bounds: nothing to do.

    def _recover(self, member: _Member, log: ChannelLog, kind: Kind, body: bytes) -> None:
        now = self._clock()
        if kind is Kind.LOG:
            record = hubwire.parse_log(body)
            offset = log.append(
                record.namespace, record.rooms, record.exclude, record.sids, record.message, now
            )
            member.answer(hubwire.offset(offset))
            self._channels[member.channel].relay(hubwire.logged(offset, record.message), member)
        elif kind is Kind.SAVE:
            s = hubwire.parse_save(body)
            session = HubSession(s.pid, s.namespace, s.sid, s.rooms, s.start, s.data, member.uid)
            (log.lose if s.lost else log.save)(session, now)
        elif kind is Kind.DROP:
            log.drop(member.uid, hubwire.parse_drop(body))
        elif kind is Kind.RESTORE:
            request = hubwire.parse_restore(body)
            found = log.find(request.namespace, request.pid, request.offset, now, MAX_RESTORE_BYTES)
            if found is None:
                member.answer(hubwire.restored(None))
                return
            kept = found.session
            wire = hubwire.SessionRecord(
                kept.pid, kept.namespace, kept.sid, kept.rooms, kept.start, kept.data
            )
            answer = hubwire.restored((wire, found.missed))  # larger than a frame: refused above
            log.hand_over(found, member.uid, now)
            member.answer(answer)
        elif kind is Kind.STATS:
            member.answer(hubwire.stats(vars(log.snapshot(now))))
        else:  # RECOVERY
            config = hubwire.parse_recovery(body)
            try:
                options = RecoveryOptions(
                    max_disconnection_duration=config.max_disconnection_duration,
                    max_packets=config.max_packets,
                    max_bytes=config.max_bytes,
                    max_sessions=config.max_sessions,
                )
            except ValueError as exc:
                raise HubLimitError(f"RECOVERY: {exc}; the channel keeps its bounds") from None
            log.configure(options, config.window)


_RECOVERY_KINDS = frozenset({Kind.RECOVERY, Kind.LOG, Kind.SAVE, Kind.DROP, Kind.RESTORE, Kind.STATS})

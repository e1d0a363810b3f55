"""``LocalDriver``: the workers of one machine as one cluster, through the supervisor's hub.

A :class:`~aiosio.adapters.cluster.ClusterDriver` with no external service: each worker's
:class:`~aiosio.adapters.cluster.ClusterAdapter` publishes the sharded ClusterAdapter messages
(:mod:`aiosio.protocol.cluster`, the format Node's sharded Redis adapter uses, already specified and
validated) over a Unix socket to the hub (:mod:`~aiosio.workers.hub`), which relays them to the
other workers of the same channel, or to one worker for answers. The server count is the number of
workers in the channel, which the hub pushes on every change, so asking for it costs nothing.

It is a :class:`~aiosio.adapters.cluster.LoggedDriver`: with connection-state recovery on, each
broadcast goes to the hub as a LOG, the hub gives it the next offset of the channel's log, answers
it to this worker (the local delivery waits for it) and relays it with that offset to the others;
:meth:`LocalDriver.recovery_store` is a :class:`~aiosio.workers.hub_store.HubStore`, whose sessions
and restores are requests to the hub. The hub answers each request of a kind in order, so answers
are matched to requests in order. Order of delivery: an answer that releases a waiting broadcast
or restore is handed over (the waiting task runs) before the next relayed broadcast is delivered,
so this worker's clients get the broadcasts in the log's order.

A hub that stops answering (its socket open, no answer to a request for :data:`ANSWER_WAIT`
seconds) counts as lost, as if its socket had closed (answers are matched to requests in order,
so a late one could not be told apart): the waiting broadcasts raise :class:`ConnectionError`,
the waiting restores give a fresh session, and ``on_lost`` is called.

Limits of the hub's wire (:mod:`~aiosio.workers.hubwire`): a broadcast in a namespace whose name
is too long for the hub's log is relayed without an offset (no session of that namespace can be
kept, so none can miss it); rooms and excluded rooms too long to be kept are left out of what the
hub selects with (no kept session is in one); a broadcast to more than
:data:`~aiosio.workers.hubwire.MAX_ROOMS` rooms or sids raises :class:`ValueError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..adapters.base import Encoder, Selector
from ..adapters.message_driver import MessageDriver
from ..adapters.wire import DropLog, to_opts, to_selector
from ..protocol.cluster import (
    ClusterBroadcast,
    ClusterMessage,
    ClusterMessageError,
    WirePacket,
    decode_cluster,
    encode_cluster,
    hex_uid,
)
from ..recovery.offsets import parse_offset
from ..recovery.options import RecoveryOptions
from ..recovery.store import RecoveryStats
from . import hubwire
from .hub_store import HubStore
from .hubwire import HubLimitError, HubWireError, Kind, LogRecord, RestoreRequest, SessionRecord

if TYPE_CHECKING:
    from ..adapters.cluster import ClusterAdapter

T = TypeVar("T")
Restoring = tuple[SessionRecord, list[tuple[str, bytes]]] | None

__all__ = ["LocalDriver"]

default_logger = logging.getLogger("aiosio.workers")

#: Past this many unsent bytes towards the hub, messages are dropped (and counted) rather than
#: queued: the hub is stuck, and memory must stay bounded.
MAX_BACKLOG = 256 * 1024 * 1024
#: How long :meth:`LocalDriver.close` waits for the hub's answers to what this worker sent.
CLOSE_WAIT = 2.0
#: How long the hub may leave this worker's requests unanswered (since the oldest was sent, or
#: since its last answer) before it counts as lost (the rule of the Redis Streams driver's appends).
ANSWER_WAIT = 5.0


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
        #: Connection-state recovery: the store (once the server turned it on), the newest offset
        #: known in the channel, and the requests waiting for the hub's answers, oldest first.
        self._store: HubStore | None = None
        self.position: str | None = None
        self._position_key: tuple[int, int] | None = None
        self._offsets: deque[asyncio.Future[str | None]] = deque()
        self._restores: deque[asyncio.Future[Restoring]] = deque()
        self._stats_wanted: deque[Callable[[RecoveryStats], None]] = deque()
        #: Answers handed to waiting tasks that have not run yet: relayed broadcasts wait for them.
        self._handed: set[asyncio.Future[Any]] = set()
        self._drained = asyncio.Event()
        self._drained.set()
        #: Set while no offset or restore waits for the hub's answer.
        self._answered = asyncio.Event()
        self._answered.set()
        #: Requests (LOG, RESTORE, STATS) the hub has not answered, since when it gave no answer
        #: while some waited (loop time), the timer that checks it, and why the hub counts as lost.
        self._unanswered = 0
        self._silent_since = 0.0
        self._watch: asyncio.TimerHandle | None = None
        self._stalled: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, adapter: ClusterAdapter) -> None:
        """Connect to the hub and join the channel (returns once the hub counted this worker)."""
        self._adapter = adapter
        reader, writer = await asyncio.open_unix_connection(self.hub_path)
        self._writer = writer
        writer.write(hubwire.hello(self.uid, self.channel))
        if self._store is not None:
            writer.write(hubwire.recovery(self._store.config))
        self._reader_task = asyncio.ensure_future(self._read(reader))
        async with asyncio.timeout(10):
            await self._counted.wait()

    async def close(self) -> None:
        """Leave the hub, once the answers to what was sent came (at most :data:`CLOSE_WAIT`
        seconds): a broadcast in flight when the server stops still gets its offset. A broadcast
        made after this reaches no other worker and is not logged (the worker is stopping)."""
        self._closing = True
        if self._offsets or self._restores:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_WAIT):
                    await self._answered.wait()
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
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None

    async def open_namespace(self, namespace: str) -> None:
        """Nothing to do: the hub relays every namespace of the channel."""

    def new_request_id(self) -> str:
        """16 hex characters, as the sharded adapter's."""
        return hex_uid()

    async def server_count(self, namespace: str) -> int:
        """The workers in the channel (this one included), as the hub last said."""
        return max(1, self._count)

    # -- the hub connection ------------------------------------------------------------------

    def _write(self, data: bytes) -> bool:
        writer = self._writer
        if writer is None or writer.transport.is_closing():
            return False
        if writer.transport.get_write_buffer_size() > MAX_BACKLOG:
            self._dropped_out += 1
            if self._dropped_out == 1 or self._dropped_out % 1000 == 0:
                self.logger.warning("the hub is not reading: %d messages dropped", self._dropped_out)
            return False
        writer.write(data)
        return True

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
                if kind is Kind.DELIVER or kind is Kind.LOGGED:
                    if self._handed:
                        await self._drained.wait()  # the answers handed over are used first
                    if kind is Kind.DELIVER:
                        self._on_message(body)
                    else:
                        offset, message = hubwire.parse_logged(body)
                        self._saw(offset)
                        self._on_message(message, offset)
                elif kind is Kind.OFFSET:
                    given = hubwire.parse_offset_body(body)
                    waiting = self._next(self._offsets, "OFFSET")
                    if given is None:
                        if not waiting.done():
                            waiting.set_exception(ValueError("the workers' hub refused to log the broadcast"))
                    else:
                        self._saw(given)
                        self._hand(waiting, given)
                elif kind is Kind.RESTORED:
                    self._hand(self._next(self._restores, "RESTORED"), hubwire.parse_restored(body))
                elif kind is Kind.STATSOF:
                    if not self._stats_wanted:
                        raise HubWireError("STATSOF that nothing asked for")
                    self._got_answer()
                    self._stats_wanted.popleft()(RecoveryStats(**hubwire.parse_stats(body)))
                elif kind is Kind.POSITION:
                    value = hubwire.parse_position(body)
                    if value is not None:
                        self._saw(value)
                elif kind is Kind.COUNT:
                    self._count = hubwire.parse_count(body)
                    self._counted.set()
                else:
                    raise HubWireError(f"the hub does not send {kind.name}")
        except (asyncio.IncompleteReadError, ConnectionError, HubWireError) as exc:
            if not self._closing:
                self.logger.error(
                    "lost the connection to the workers' hub: %s", self._stalled or exc or "closed"
                )
                if self.on_lost is not None:
                    self.on_lost()
        finally:
            self._fail_waiting()

    # -- answers -----------------------------------------------------------------------------

    def _next(self, waiting: deque[asyncio.Future[T]], kind: str) -> asyncio.Future[T]:
        if not waiting:
            raise HubWireError(f"{kind} that nothing asked for")
        future = waiting.popleft()
        self._got_answer()
        if not self._offsets and not self._restores:
            self._answered.set()
        return future

    def _waiting_for(self, waiting: deque[asyncio.Future[T]]) -> asyncio.Future[T]:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        waiting.append(future)
        self._answered.clear()
        self._asked()
        return future

    # -- the answer deadline -----------------------------------------------------------------------

    def _asked(self) -> None:
        """A request was sent: the hub has :data:`ANSWER_WAIT` seconds to answer something."""
        loop = asyncio.get_running_loop()
        if self._unanswered == 0:
            self._silent_since = loop.time()
        self._unanswered += 1
        if self._watch is None:
            self._watch = loop.call_at(self._silent_since + ANSWER_WAIT, self._check_answers)

    def _got_answer(self) -> None:
        self._unanswered = max(0, self._unanswered - 1)
        self._silent_since = asyncio.get_running_loop().time()

    def _check_answers(self) -> None:
        """The timer: re-armed while the hub answers; past the deadline the hub counts as lost."""
        self._watch = None
        if self._unanswered == 0 or self._closing:
            return
        loop = asyncio.get_running_loop()
        deadline = self._silent_since + ANSWER_WAIT
        if loop.time() < deadline:
            self._watch = loop.call_at(deadline, self._check_answers)
            return
        self._stalled = f"no answer from the hub for {ANSWER_WAIT:g} s (waiting: {self._unanswered})"
        writer = self._writer
        if writer is not None:
            writer.transport.abort()  # the reader ends, as when the hub is gone

    def _hand(self, future: asyncio.Future[T], value: T) -> None:
        """Give a waiting task its answer; relayed broadcasts wait until it ran (see the module
        docstring)."""
        if not future.done():
            future.set_result(value)
            self._handed.add(future)
            self._drained.clear()

    async def _take(self, future: asyncio.Future[T]) -> T:
        """Wait for the hub's answer (for :meth:`_hand`)."""
        try:
            return await future
        finally:
            if future in self._handed:
                self._handed.discard(future)
                if not self._handed:
                    self._drained.set()

    def _fail_waiting(self) -> None:
        """The hub is gone: what waits for an answer gets none (a broadcast waiting for its offset
        fails, unless this driver is closing: then it goes without one)."""
        lost = ConnectionError(
            f"the connection to the workers' hub was lost{': ' + self._stalled if self._stalled else ''}"
        )
        self._unanswered = 0
        offsets, self._offsets = self._offsets, deque()
        for future in offsets:
            if future.done():
                continue
            if self._closing:
                future.set_result(None)
            else:
                future.set_exception(lost)
        restores, self._restores = self._restores, deque()
        for restoring in restores:
            if not restoring.done():
                restoring.set_result(None)
        self._stats_wanted.clear()
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        self._handed.clear()
        self._drained.set()
        self._answered.set()

    def _saw(self, offset: str) -> None:
        key = parse_offset(offset)
        if key is not None and (self._position_key is None or key > self._position_key):
            self._position_key = key
            self.position = offset

    # -- connection-state recovery (LoggedDriver) ------------------------------------------------

    def recovery_store(self, options: RecoveryOptions, delivery_window: float) -> HubStore:
        """The recovery store kept by the hub (made once; the hub takes its bounds)."""
        if self._store is None:
            self._store = HubStore(self, options, delivery_window)
            if self._writer is not None:
                self._write(hubwire.recovery(self._store.config))
        return self._store

    async def broadcast_logged(
        self, namespace: str, event: str, args: tuple[Any, ...], selector: Selector
    ) -> str | None:
        """Log a broadcast at the hub (relayed by it to the other workers with its offset); the
        offset. A volatile one is relayed, not logged: None (also in a namespace too long for the
        log: see the module docstring). Raises :class:`ValueError` for one the log cannot select
        with (more than :data:`~aiosio.workers.hubwire.MAX_ROOMS` rooms or sids) and
        :class:`ConnectionError` if the hub cannot take it or does not answer in time."""
        message = ClusterBroadcast(
            self.uid, namespace, WirePacket(namespace, [event, *args]), to_opts(selector)
        )
        payload = encode_cluster(message)  # data the wire cannot carry raises before anyone got it
        if selector.volatile or self._closing or len(namespace) > hubwire.MAX_NAME:
            self._write(hubwire.frame(Kind.PUBLISH, payload))
            return None
        rooms = selector.rooms
        if rooms is not None and any(len(room) > hubwire.MAX_NAME for room in rooms):
            rooms = tuple(room for room in rooms if len(room) <= hubwire.MAX_NAME)
        exclude = tuple(room for room in selector.exclude if len(room) <= hubwire.MAX_NAME)
        try:
            frame = hubwire.log(LogRecord(namespace, rooms, exclude, selector.sids, payload))
        except HubLimitError as exc:
            raise ValueError(
                f"connection-state recovery across workers cannot log this broadcast: {exc}"
            ) from None
        if not self._write(frame):
            raise ConnectionError("the workers' hub cannot take the broadcast (gone or not reading)")
        return await self._take(self._waiting_for(self._offsets))

    def send_session(self, record: SessionRecord) -> None:
        """Write a session to the hub (queued); raises :class:`~aiosio.workers.hubwire.HubLimitError`
        (nothing sent) for one beyond the wire's limits."""
        self._write(hubwire.save(record))

    def send_drop(self, pid: str) -> None:
        """Tell the hub a session is over (queued)."""
        self._write(hubwire.drop(pid))

    async def request_restore(self, request: RestoreRequest) -> Restoring:
        """The hub's answer to a restore (None: refused, or the hub cannot be reached or did not
        answer in time); raises :class:`~aiosio.workers.hubwire.HubLimitError` (nothing sent)
        for a request beyond the wire's limits."""
        frame = hubwire.restore(request)
        if self._closing or not self._write(frame):
            return None
        return await self._take(self._waiting_for(self._restores))

    def ask_stats(self, callback: Callable[[RecoveryStats], None]) -> None:
        """Ask the hub for the channel's counters; ``callback`` gets them."""
        if self._write(hubwire.stats_request()):
            self._stats_wanted.append(callback)
            self._asked()

    async def request_stats(self) -> RecoveryStats:
        """The channel's counters, from the hub."""
        future: asyncio.Future[RecoveryStats] = asyncio.get_running_loop().create_future()

        def took(stats: RecoveryStats) -> None:
            if not future.done():
                future.set_result(stats)

        if not self._write(hubwire.stats_request()):
            raise ConnectionError("the workers' hub cannot be reached")
        self._stats_wanted.append(took)
        self._asked()
        async with asyncio.timeout(10):
            return await future

    def encoder(self) -> Encoder:
        """The server's EVENT encoder (for the packets a restore replays)."""
        adapter = self._adapter
        if adapter is None:
            raise RuntimeError("the driver is not started")
        encode: Encoder = adapter._encoder()
        return encode

    # -- outbound (the operations themselves: MessageDriver) -----------------------------------

    def room_created(self, namespace: str, room: str) -> None:
        """Nothing: the hub relays every message of the channel."""

    def room_deleted(self, namespace: str, room: str) -> None:
        """Nothing."""

    # -- inbound -----------------------------------------------------------------------------

    def _on_message(self, payload: bytes, offset: str | None = None) -> None:
        adapter = self._adapter
        if adapter is None:
            return
        try:
            message = decode_cluster(payload)
            if message.uid == self.uid:
                return
            if offset is not None and isinstance(message, ClusterBroadcast) and message.request_id is None:
                event, *args = message.packet.data
                selector = to_selector(message.opts)
                adapter.receive_broadcast(message.nsp, event, tuple(args), selector, offset=offset)
            else:
                self.dispatch(adapter, message)
        except ClusterMessageError as exc:
            self.dropped(f"hub channel {self.channel!r}", exc)
        except Exception as exc:
            self.dropped(f"hub channel {self.channel!r}", f"{type(exc).__name__}: {exc}")
            self.logger.debug("cluster message handling failed", exc_info=True)

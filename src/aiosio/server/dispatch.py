"""Dispatch: what arrives from a client (Socket.IO packets, events, acks) and running handlers."""

from __future__ import annotations

import asyncio
import contextlib
from asyncio import Task, get_running_loop
from collections.abc import Callable, Coroutine
from contextvars import copy_context
from time import perf_counter
from types import CoroutineType
from typing import Any

from ..engine.eager import EAGER, start_task
from ..engine.session import CloseReason, EngineSession
from ..protocol.errors import ParseError
from ..protocol.socketio import Packet, PacketType
from .emitting import Emitting
from .handlers import Handler, HandlerRegistry
from .socket import Connection, ServerSocket

#: Enum members looked up once: ``PacketType.EVENT`` costs ~0.1 µs on every access in Python 3.11.
_EVENT = PacketType.EVENT
_ACK = PacketType.ACK

#: What a timed handler run reports to: ``(handler_finished, namespace, event)``.
Timing = tuple[Callable[[str, str, float, BaseException | None], None], str, str]


class Dispatch(Emitting):
    """Incoming packets and handler runs of :class:`~aiosio.AsyncServer`."""

    _registry: HandlerRegistry
    _ack_hook: bool
    _hook_tasks: dict[str, asyncio.Task[Any]]

    def _handle_connect(self, conn: Connection, packet: Packet) -> None:
        raise NotImplementedError  # the lifecycle part of the server

    def _drop_socket(self, sock: ServerSocket, reason: str) -> None:
        raise NotImplementedError  # the lifecycle part of the server

    def on_message(self, session: EngineSession, data: str | bytes) -> None:
        """Decode one Engine.IO message and act on the Socket.IO packet it completes."""
        conn: Connection = session.data
        try:
            decoder = conn.decoder
            fed = decoder.feed(data)
            if fed is None:
                pending = decoder.pending
                if pending is not None and pending.namespace not in conn.sockets:
                    raise ParseError("binary packet for a namespace the client has not joined")
                return
            packet = fed
        except ParseError as exc:
            session.protocol_error(str(exc))
            return
        ptype = packet.type
        if ptype == _EVENT:
            sock = conn.sockets.get(packet.namespace)
            # Not before the connect handler has accepted the socket (python-socketio drops these
            # too): a refused client must not get an event handled.
            if sock is not None and sock.ready:
                self._handle_event(sock, packet)
        elif ptype == _ACK:
            sock = conn.sockets.get(packet.namespace)
            if sock is not None and sock.ready and packet.id is not None:
                if sock.ack_sent is not None:  # observed when the ack was asked for
                    self._observe_ack(sock, packet.id)
                if self._ack_hook:
                    self._run_hook(sock.sid, self.manager.trigger_callback(sock.sid, packet.id, packet.data))
                else:
                    callback = sock.pop_ack(packet.id)
                    if callback is not None:  # unknown or repeated acks are ignored
                        callback(packet.data)
        elif ptype == PacketType.CONNECT:
            self._handle_connect(conn, packet)
        elif ptype == PacketType.DISCONNECT:
            sock = conn.sockets.get(packet.namespace)
            if sock is not None:
                self._drop_socket(sock, CloseReason.CLIENT_DISCONNECT)
        else:
            session.protocol_error(f"clients may not send {ptype.name}")

    def urgent(self, session: EngineSession, data: str | bytes) -> bool:
        """True for an ACK: read while this connection's events wait, it is handled at once, as a
        running handler may be waiting for it (see :meth:`EngineSession.message`)."""
        conn: Connection | None = session.data
        if conn is None:
            return False
        return conn.decoder.is_ack(data)  # a bad message is reported in turn, when it is handled

    def _resolve_ack(self, sid: str, namespace: str | None, ack_id: int, data: list[Any]) -> None:
        """Complete what waits for ack ``ack_id`` of ``sid`` (``AsyncManager.trigger_callback``)."""
        sock = self._sockets.get(sid)
        if sock is None or (namespace is not None and sock.namespace != namespace):
            return
        callback = sock.pop_ack(ack_id)
        if callback is not None:
            callback(data)

    def _run_hook(self, sid: str, coro: Coroutine[Any, Any, Any]) -> None:
        """Run an overridden manager method in a task, after the earlier ones for the same sid."""
        previous = self._hook_tasks.get(sid)

        async def run() -> None:
            if previous is not None:
                with contextlib.suppress(BaseException):
                    await previous
            await coro

        task = self._core.loop.create_task(run())
        self._hook_tasks[sid] = task

        def done(t: asyncio.Task[Any]) -> None:
            if self._hook_tasks.get(sid) is t:
                del self._hook_tasks[sid]
            if not t.cancelled() and t.exception() is not None:
                self.logger.error("client manager failed", exc_info=t.exception())

        task.add_done_callback(done)

    # -- events -------------------------------------------------------------------------------------

    def _handle_event(self, sock: ServerSocket, packet: Packet) -> None:
        data = packet.data
        obs = self._obs
        if obs is not None and obs.event_received is not None:  # every event, handled or not
            obs.event_received(sock.sid, sock.namespace, data[0], data[1:])
        handler, args = self._registry.find(sock.namespace, data[0], (sock.sid, *data[1:]))
        if handler is None:
            return
        timing: Timing | None = None
        if obs is not None and obs.handler_finished is not None:  # observers may want it timed
            timing = (obs.handler_finished, sock.namespace, data[0])
        ack_id = packet.id
        ack = (sock, ack_id) if ack_id is not None else None
        session = sock.session
        # Now, or once a handler slot of this connection is free.
        if session.at_capacity:
            session.run_limited(lambda: self._start(session, handler, args, ack, None, timing))
        else:
            self._start(session, handler, args, ack, None, timing)

    def _observe_ack(self, sock: ServerSocket, ack_id: int) -> None:
        """An ACK arrived for a socket whose acks are timed: report its round trip if it was awaited."""
        assert sock.ack_sent is not None
        sent = sock.ack_sent.pop(ack_id, None)
        obs = self._obs
        if sent is None or obs is None or obs.ack_received is None:
            return
        if sock.acks and ack_id in sock.acks:  # awaited (not timed out, not repeated)
            obs.ack_received(sock.namespace, self._core.loop.time() - sent)

    def _start(
        self,
        session: EngineSession,
        handler: Handler,
        args: tuple[Any, ...],
        ack: tuple[ServerSocket, int] | None,
        after: Callable[[], None] | None = None,
        timing: Timing | None = None,
    ) -> None:
        """Call a handler (a coroutine becomes a Task, eager where Python allows); ack its result.

        With ``timing`` (observers want handler times) the observers hear how long it ran."""
        started = perf_counter() if timing is not None else 0.0
        try:
            result = handler(*args)
        except Exception as exc:
            if timing is not None:
                timing[0](timing[1], timing[2], perf_counter() - started, exc)
            self._log_failure(None, exc)
            result = None
            ack = None
            timing = None
        if not isinstance(result, CoroutineType):  # inspect.iscoroutine without its call
            if timing is not None:
                timing[0](timing[1], timing[2], perf_counter() - started, None)
            if ack is not None:
                self._send_ack(ack[0], ack[1], result)
            if after is not None:
                after()
            return

        if not EAGER and after is None:
            # Python 3.11: every coroutine handler is a Task. What follows an event handler (the
            # ack, the observers, freeing its slot) runs at the end of that Task, not in a done
            # callback: one loop callback (a Handle and a Context.run) and one closure less per
            # event. A Task cancelled before its first step never runs that end (nor the handler):
            # only something cancelling every task does that (asyncio.run at its end), when the
            # session goes too. Handlers with an ``after`` (disconnect: forgetting the socket must
            # happen whatever) keep the done callback below.
            coro = self._run_handler(session, result, ack, after, timing, started)
            loop = get_running_loop()  # the core's loop, without its property call
            if loop.get_task_factory() is None:
                # What loop.create_task does then, without its Python frame (~0.2 µs per event).
                Task(coro, loop=loop)
            else:
                # Not kept, as before: the loop holds it while it is scheduled, and what it awaits.
                loop.create_task(coro)  # noqa: RUF006
            session.inflight += 1  # task_started(), once the Task exists (a raising factory leaks none)
            return

        started_task = False

        def on_done(value: Any, exc: BaseException | None) -> None:
            # The same done callback frees the handler slot (once a Task took one): one loop
            # callback per handler task, not two (each is a Handle and a Context.run per message).
            self._handler_ended(session, value, exc, ack, after, timing, started, started_task)

        if start_task(self._core.loop, result, on_done) is not None:
            started_task = True
            session.task_started()

    async def _run_handler(
        self,
        session: EngineSession,
        coro: Coroutine[Any, Any, Any],
        ack: tuple[ServerSocket, int] | None,
        after: Callable[[], None] | None,
        timing: Timing | None,
        started: float,
    ) -> None:
        """The Task of one coroutine handler (Python 3.11): the handler, then :meth:`_handler_ended`.

        That runs in a copy of the context the Task started with, as a done callback would: what
        the handler set in its own context stays there, and handlers started from it (a freed slot
        starting a waiting one) do not inherit it. The Task ends as the handler did (cancelled, or
        with KeyboardInterrupt/SystemExit raised); a handler's exception is logged, not kept.
        """
        context = copy_context()
        try:
            value = await coro
        except BaseException as exc:
            context.run(self._handler_ended, session, None, exc, ack, after, timing, started)
            if not isinstance(exc, Exception):
                raise
            return
        context.run(self._handler_ended, session, value, None, ack, after, timing, started)

    def _handler_ended(
        self,
        session: EngineSession,
        value: Any,
        exc: BaseException | None,
        ack: tuple[ServerSocket, int] | None,
        after: Callable[[], None] | None,
        timing: Timing | None,
        started: float,
        free_slot: bool = True,
    ) -> None:
        """A handler returned ``value`` or raised ``exc``: report, ack, run ``after``, and free its
        Task's handler slot (``free_slot``: a handler that finished eagerly took none)."""
        try:
            if timing is not None:
                timing[0](timing[1], timing[2], perf_counter() - started, exc)
            if exc is not None:
                self._log_failure(None, exc)
            elif ack is not None:
                self._send_ack(ack[0], ack[1], value)
            if after is not None:
                after()
        finally:
            if free_slot:
                session.task_done()

    def _send_ack(self, sock: ServerSocket, ack_id: int, value: Any) -> None:
        """Send a handler's return value as the ack; a value JSON can't carry is logged, not raised."""
        if sock.session.closed:
            return
        if isinstance(value, tuple):
            data = list(value)
        elif value is None:
            data = []
        else:
            data = [value]
        try:
            frames = self._parser.encode_ack(sock.namespace, ack_id, data)
        except (TypeError, ValueError, OverflowError) as exc:
            self.logger.error("cannot send the ack of %s: %s", sock.sid, exc)
            return
        sock.deliver(frames)

    def _log_failure(self, _result: Any, exc: BaseException | None) -> None:
        if exc is not None and not isinstance(exc, asyncio.CancelledError):
            self.logger.error("event handler failed", exc_info=exc)

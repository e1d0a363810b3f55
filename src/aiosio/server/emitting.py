"""Emitting: encoding an EVENT and handing it to its recipients (``emit``, ``send``, ``call``,
``emit_with_ack``). One local sid is written to directly; everything else goes through the adapter.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import exceptions
from ..adapters.acks import gather
from ..adapters.base import EVERYONE, Adapter, EventPacket, Selector
from ..engine.eager import start_task
from ..protocol.frames import Frame
from ..protocol.parser import Parser
from .observe import Observable
from .socket import ServerSocket

if TYPE_CHECKING:
    from ..engine.server import EngineCore
    from ..recovery.store import RecoveryStore
    from .manager import AsyncManager


class _AckWaiter:
    """The callback ``call()`` hands an overridden ``manager.emit``: it also hears of a disconnect."""

    __slots__ = ("future", "on_ack")

    def __init__(self, future: asyncio.Future[list[Any]]) -> None:
        self.future = future
        #: The ack callback registered on the socket for this waiter (set when the emit registers
        #: it), so a ``call()`` that times out can take it off the socket again.
        self.on_ack: Callable[[list[Any] | BaseException], None] | None = None

    def forget(self, sock: ServerSocket) -> None:
        """Stop waiting: remove this waiter's ack callback from ``sock`` (after a timeout)."""
        acks = sock.acks
        if self.on_ack is not None and acks:
            for ack_id in [i for i, cb in acks.items() if cb is self.on_ack]:
                sock.pop_ack(ack_id)  # its send time too (kept while an observer times acks)

    def __call__(self, *args: Any) -> None:
        if not self.future.done():
            self.future.set_result(list(args))

    def fail(self, exc: BaseException) -> None:
        """The client went away before acknowledging."""
        if not self.future.done():
            self.future.set_exception(exc)


def _ignore_count(_clients: int) -> None:
    return None


#: Selectors for one room, reused (they are immutable): building one costs more than the lookup.
#: Bounded: emptied when full.
_ROOM_SELECTORS: dict[str, Selector] = {}
_ROOM_SELECTORS_MAX = 4096


class Emitting(Observable):
    """The emitting half of :class:`~aiosio.AsyncServer` (state it uses is set up there)."""

    logger: logging.Logger
    #: The packet codec (the ``serializer``'s parser), shared by every connection.
    _parser: Parser
    #: Encodes an EVENT once into the Engine.IO frames every recipient gets: the parser's
    #: ``encode_event``, bound once (it is on the hot path).
    _encode: Callable[[str, str, tuple[Any, ...], int | None], list[Frame]]
    manager: AsyncManager
    _adapter: Adapter
    _core: EngineCore
    _hooks: frozenset[str]
    _sockets: dict[str, ServerSocket]
    #: The connection-state recovery store, None when recovery is off (then emits never look at it
    #: beyond this one attribute).
    _recovery: RecoveryStore | None
    #: True when the store's offsets come from the cluster adapter's log (its ``stamp`` does
    #: nothing; a packet for one local sid goes through the adapter to be logged).
    _recovery_logged: bool

    @staticmethod
    def _args(data: Any) -> tuple[Any, ...]:
        if data is None:
            return ()
        if isinstance(data, tuple):
            return data
        return (data,)

    async def emit(
        self,
        event: str,
        data: Any = None,
        to: Any = None,
        room: Any = None,
        skip_sid: Any = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
        volatile: bool = False,
    ) -> None:
        """Emit ``event`` to a sid, a room, several rooms (a list) or everyone in the namespace.

        ``data`` is one argument, or a tuple of arguments. ``skip_sid`` takes sids or room names (one
        or a list); their members are left out. With ``callback`` each recipient's ack calls it.
        ``volatile=True`` drops the packet for clients that cannot take it right now;
        ``ignore_queue=True`` reaches this server's clients only (no other node of a cluster). When
        the client manager overrides ``emit``, this goes through it (as in python-socketio).
        """
        ns = namespace or "/"
        args = self._args(data)
        target = to if to is not None else room
        if callback is None and skip_sid is None and target.__class__ is str:
            # The common case: straight to one client of this process, no adapter walk.
            sock = self._sockets.get(target)
            if sock is not None and sock.namespace == ns:
                sent = 1
                if volatile:
                    sent = sock.deliver_volatile(self._encode(ns, event, args, None))
                elif self._recovery is None:
                    sock.deliver(self._encode(ns, event, args, None))
                elif self._recovery_logged:
                    # Recovery on a cluster's log: logged like a broadcast to the sid (Node), so a
                    # client that comes back on another node gets it too; the log gives the offset.
                    selector = Selector((target,), sids=True)
                    await self._adapter.broadcast(EventPacket(ns, event, args, self._encode), selector)
                    return  # the adapter reported it to the observers
                else:
                    # Recovery: kept (and given its offset) like a broadcast to the sid (Node).
                    direct = EventPacket(ns, event, args, self._encode)
                    self._recovery.stamp(direct, Selector((target,), sids=True))
                    sock.deliver(direct.frames())
                obs = self._obs
                if obs is not None and obs.event_emitted is not None:
                    obs.event_emitted(ns, event, args, (target,), int(sent), ())
                return
        if skip_sid is not None or volatile:
            selector = Selector.of(target, skip_sid, volatile=volatile)
        elif target is None:
            selector = EVERYONE
        elif target.__class__ is str:
            selector = _ROOM_SELECTORS.get(target)  # type: ignore[assignment]
            if selector is None:
                if len(_ROOM_SELECTORS) >= _ROOM_SELECTORS_MAX:
                    _ROOM_SELECTORS.clear()
                selector = _ROOM_SELECTORS[target] = Selector((target,))
        else:
            selector = Selector.of(target)
        if ignore_queue:  # python-socketio's meaning: this server's clients only, nothing published
            selector = selector._replace(local=True)
        if callback is None:
            packet = EventPacket(ns, event, args, self._encode)
            if self._recovery is not None and not volatile:
                self._recovery.stamp(packet, selector)
            await self._adapter.broadcast(packet, selector)
            return
        packet = EventPacket(ns, event, args, self._encode, ack=True)
        await self._adapter.broadcast_with_ack(
            packet, selector, _ignore_count, self._callback_adapter(callback)
        )

    #: The direct emit, whatever ``emit`` is bound to: what ``AsyncManager.emit`` calls.
    _emit_direct = emit

    async def _emit_through_manager(
        self,
        event: str,
        data: Any = None,
        to: Any = None,
        room: Any = None,
        skip_sid: Any = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
        volatile: bool = False,
    ) -> None:
        """``emit`` when the manager overrides it: python-socketio's call of ``manager.emit``."""
        extra: dict[str, Any] = {"ignore_queue": ignore_queue}
        if volatile:
            extra["volatile"] = True
        await self.manager.emit(
            event,
            data,
            namespace or "/",
            room=to if to is not None else room,
            skip_sid=skip_sid,
            callback=callback,
            **extra,
        )

    def _callback_adapter(self, callback: Callable[..., Any]) -> Callable[[list[Any] | BaseException], None]:
        def on_ack(result: list[Any] | BaseException) -> None:
            if isinstance(result, BaseException):
                # A callback has no way to receive an error (a dropped client just never acks);
                # call()'s own waiter does.
                if isinstance(callback, _AckWaiter):
                    callback.fail(result)
                return
            try:
                outcome = callback(*result)
            except Exception:
                self.logger.exception("ack callback failed")
                return
            if inspect.iscoroutine(outcome):
                start_task(self._core.loop, outcome, self._log_callback_failure)

        if isinstance(callback, _AckWaiter):
            callback.on_ack = on_ack
        return on_ack

    def _log_callback_failure(self, _result: Any, exc: BaseException | None) -> None:
        if exc is not None and not isinstance(exc, asyncio.CancelledError):
            self.logger.error("ack callback failed", exc_info=exc)

    async def send(
        self,
        data: Any,
        to: Any = None,
        room: Any = None,
        skip_sid: Any = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
    ) -> None:
        """Emit a ``message`` event (python-socketio's ``send``)."""
        await self.emit("message", data, to, room, skip_sid, namespace, callback, ignore_queue)

    async def call(
        self,
        event: str,
        data: Any = None,
        to: str | None = None,
        sid: str | None = None,
        namespace: str | None = None,
        timeout: float | None = 60,
        ignore_queue: bool = False,
    ) -> Any:
        """Emit to one client and wait for its ack; returns its argument (a tuple if several).

        Raises :class:`~aiosio.exceptions.TimeoutError` after ``timeout`` seconds (None: wait as long
        as the client is connected), and :class:`~aiosio.exceptions.DisconnectedError` at once if the
        client goes away first (or is not connected). For every recipient of a room, see
        :meth:`emit_with_ack`.
        """
        target = to or sid
        if target is None:
            raise ValueError("call() needs the sid of one client")
        ns = namespace or "/"
        sock = self._sockets.get(target)
        if sock is None or sock.namespace != ns:
            if "emit" not in self._hooks:
                return await self._call_elsewhere(event, data, target, ns, timeout)
            sock = None
        if sock is None or sock.gone or sock.session.closed:
            raise exceptions.DisconnectedError(f"{target} is not connected to {ns}")
        future: asyncio.Future[list[Any]] = self._core.loop.create_future()
        ack_id: int | None = None
        waiter: _AckWaiter | None = None
        if "emit" in self._hooks:
            waiter = _AckWaiter(future)
            await self.emit(event, data, to=target, namespace=ns, callback=waiter)
        else:

            def on_ack(result: list[Any] | BaseException) -> None:
                if future.done():
                    return
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

            ack_id = sock.add_ack(on_ack)
            args = self._args(data)
            sock.deliver(self._encode(ns, event, args, ack_id))
            obs = self._obs
            if obs is not None and obs.event_emitted is not None:
                obs.event_emitted(ns, event, args, (target,), 1, ())
        try:
            async with asyncio.timeout(timeout):
                result = await future
        except TimeoutError:
            raise exceptions.TimeoutError(f"no ack for {event!r} within {timeout} s") from None
        finally:
            if ack_id is not None:
                sock.pop_ack(ack_id)
            elif waiter is not None:
                waiter.forget(sock)
        if not result:
            return None
        return result[0] if len(result) == 1 else tuple(result)

    async def _call_elsewhere(
        self, event: str, data: Any, target: str, ns: str, timeout: float | None
    ) -> Any:
        """``call()`` for a sid this process does not hold: the adapter may know where it is."""
        packet = EventPacket(ns, event, self._args(data), self._encode, ack=True)
        try:
            answers = await gather(
                self._adapter, packet, Selector((target,), timeout=timeout, sids=True), first=True
            )
        except exceptions.AcksMissingError as exc:
            if exc.disconnected:
                raise exceptions.DisconnectedError(f"{target} disconnected") from None
            raise exceptions.TimeoutError(f"no ack for {event!r} within {timeout} s") from None
        if not answers:
            raise exceptions.DisconnectedError(f"{target} is not connected to {ns}")
        return answers[0]

    async def emit_with_ack(
        self,
        event: str,
        data: Any = None,
        to: Any = None,
        room: Any = None,
        skip_sid: Any = None,
        namespace: str | None = None,
        timeout: float | None = 60,
        volatile: bool = False,
    ) -> list[Any]:
        """Emit to a sid, a room, several rooms or everyone, and wait for every recipient's ack.

        Returns the answers, one per recipient in arrival order, each as :meth:`call` returns it
        (None, the value, or a tuple of values); ``[]`` if nobody was selected. Node's
        ``io.timeout(t).emitWithAck()``. Raises :class:`~aiosio.exceptions.AcksMissingError` (a
        ``TimeoutError``) after ``timeout`` seconds, or as soon as every recipient still connected
        has answered if some left: its ``responses`` are the answers that arrived, ``expected`` the
        number of recipients, ``disconnected`` how many left without answering.
        """
        target = to if to is not None else room
        packet = EventPacket(namespace or "/", event, self._args(data), self._encode, ack=True)
        selector = Selector.of(target, skip_sid, volatile=volatile, timeout=timeout)
        return await gather(self._adapter, packet, selector)

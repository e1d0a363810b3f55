"""What a test client received from the server, and waiting for it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .. import exceptions

Reply = Callable[[list[Any]], Awaitable[None]]


def ack_value(args: list[Any]) -> Any:
    """What ``call()`` returns for an acknowledgement's arguments: None, the only one, or a tuple."""
    if not args:
        return None
    if len(args) == 1:
        return args[0]
    return tuple(args)


@dataclass(eq=False)
class Received:
    """One event the server sent: its name, arguments and namespace.

    ``data`` is the arguments as python-socketio's ``call()`` returns them (one as is, several as a
    tuple, none as None). If the server asked for an acknowledgement (``emit(..., callback=)`` or
    ``call()``), :attr:`wants_ack` is True and :meth:`ack` sends it, unless a handler registered
    with ``TestClient.on`` answered it already.
    """

    event: str
    args: list[Any]
    namespace: str = "/"
    ack_id: int | None = None
    _reply: Reply | None = field(default=None, repr=False)
    _acked: bool = field(default=False, repr=False)

    @property
    def data(self) -> Any:
        """The arguments: one as is, several as a tuple, none as None."""
        return ack_value(self.args)

    @property
    def wants_ack(self) -> bool:
        """True if the server waits for an acknowledgement not yet sent."""
        return self.ack_id is not None and not self._acked

    async def ack(self, *args: Any) -> None:
        """Answer the server's acknowledgement request with ``args``."""
        if self.ack_id is None or self._reply is None:
            raise RuntimeError(f"the server did not ask for an acknowledgement of {self.event!r}")
        if self._acked:
            raise RuntimeError(f"{self.event!r} was acknowledged already")
        self._acked = True
        await self._reply(list(args))


class Inbox:
    """Every received event in order (:attr:`history`) and those not taken yet by :meth:`take`."""

    def __init__(self) -> None:
        self.history: list[Received] = []
        self._unread: list[Received] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._closed: str | None = None

    def put(self, item: Received) -> None:
        """A new event arrived."""
        self.history.append(item)
        self._unread.append(item)
        self._wake()

    def close(self, reason: str) -> None:
        """Nothing more will arrive (waiting :meth:`take` calls give up once nothing matches)."""
        self._closed = reason
        self._wake()

    def reopen(self) -> None:
        """A new connection: events may arrive again."""
        self._closed = None

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _find(self, event: str | None, namespace: str | None) -> Received | None:
        for i, item in enumerate(self._unread):
            if (event is None or item.event == event) and (namespace is None or item.namespace == namespace):
                del self._unread[i]
                return item
        return None

    async def take(self, event: str | None, namespace: str | None, timeout: float | None) -> Received:
        """The oldest unread event matching ``event`` and ``namespace`` (None: any), waiting up to
        ``timeout`` seconds for one."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            item = self._find(event, namespace)
            if item is not None:
                return item
            what = "an event" if event is None else f"event {event!r}"
            if namespace is not None:
                what += f" in namespace {namespace}"
            if self._closed is not None:
                raise exceptions.DisconnectedError(
                    f"no {what} received; the client is disconnected ({self._closed})"
                )
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                raise exceptions.TimeoutError(f"no {what} received within {timeout}s")
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                raise exceptions.TimeoutError(f"no {what} received within {timeout}s") from None

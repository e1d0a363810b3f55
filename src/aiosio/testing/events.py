"""What a test client received from the server, and waiting for it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
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


#: Why a client that never connected receives nothing.
NOT_CONNECTED = "not connected"


class Inbox:
    """Every received event in order (:attr:`history`) and those not taken yet by :meth:`take`.

    It knows which namespaces may still send (those connected or being connected): a :meth:`take`
    that nothing can answer any more (no namespace left, or the one asked for was left) fails at
    once with :class:`~aiosio.exceptions.DisconnectedError` rather than wait for its timeout.
    """

    def __init__(self) -> None:
        self.history: list[Received] = []
        self._unread: list[Received] = []
        self._waiters: list[asyncio.Future[None]] = []
        #: The namespaces events may still come from.
        self._open: set[str] = set()
        #: Why the connection, or a namespace, ended.
        self._reason = NOT_CONNECTED
        self._left: dict[str, str] = {}

    def put(self, item: Received) -> None:
        """A new event arrived."""
        self.history.append(item)
        self._unread.append(item)
        self._wake()

    def reopen(self, namespaces: Iterable[str]) -> None:
        """A new connection, to ``namespaces``: events may arrive from them."""
        self._open = set(namespaces)
        self._left = {}

    def close_namespace(self, namespace: str, reason: str) -> None:
        """Nothing more will arrive from ``namespace`` (it was left, refused or lost)."""
        if namespace in self._open:
            self._open.discard(namespace)
            self._left[namespace] = reason
            self._reason = reason
            self._wake()

    def close(self, reason: str) -> None:
        """Nothing more will arrive at all (waiting :meth:`take` calls give up once nothing matches)."""
        for namespace in self._open:
            self._left[namespace] = reason
        self._open = set()
        self._reason = reason
        self._wake()

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

    def _ended(self, namespace: str | None) -> str | None:
        """Why nothing can arrive for a take in ``namespace`` (None: any), or None if something can."""
        if namespace is None:
            return None if self._open else self._reason
        if namespace in self._open:
            return None
        return self._left.get(namespace, self._reason if not self._open else f"{namespace} was not connected")

    async def take(self, event: str | None, namespace: str | None, timeout: float | None) -> Received:
        """The oldest unread event matching ``event`` and ``namespace`` (None: any), waiting up to
        ``timeout`` seconds for one."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        what = "event" if event is None else f"{event!r} event"
        if namespace is not None:
            what += f" in namespace {namespace}"
        while True:
            item = self._find(event, namespace)
            if item is not None:
                return item
            ended = self._ended(namespace)
            if ended is not None:
                raise exceptions.DisconnectedError(
                    f"no {what} received; the client is disconnected ({ended})"
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

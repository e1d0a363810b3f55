"""Broadcast with acks, aggregated: one awaitable for every recipient's answer (Node's
``io.timeout(t).emitWithAck``), over any adapter's ``broadcast_with_ack``."""

from __future__ import annotations

import asyncio
from typing import Any

from ..exceptions import AcksMissingError
from .base import AckRequest, Adapter, EventPacket, Selector


def unpack(args: list[Any]) -> Any:
    """An ack's arguments as ``call()`` returns them: None, the one value, or a tuple."""
    if not args:
        return None
    return args[0] if len(args) == 1 else tuple(args)


class _Collector:
    """Counts servers and recipients as they report, and answers as they come."""

    __slots__ = ("clients", "disconnected", "first", "future", "responses", "servers", "servers_seen")

    def __init__(self, future: asyncio.Future[list[Any]], first: bool = False) -> None:
        self.future = future
        #: Done at the first answer (one recipient wanted: ``call()`` of a sid on another node).
        self.first = first
        self.servers = -1  # not known yet
        self.servers_seen = 0
        self.clients = 0
        self.responses: list[Any] = []
        self.disconnected = 0

    def count(self, clients: int) -> None:
        self.servers_seen += 1
        self.clients += clients
        self.check()

    def ack(self, result: list[Any] | BaseException) -> None:
        if self.future.done():
            return  # late: after the timeout
        if isinstance(result, BaseException):
            self.disconnected += 1
        else:
            self.responses.append(unpack(result))
        self.check()

    def expect(self, servers: int) -> None:
        self.servers = servers
        self.check()

    def check(self) -> None:
        if self.first and self.responses and not self.future.done():
            self.future.set_result(self.responses)
            return
        if self.future.done() or self.servers < 0 or self.servers_seen < self.servers:
            return
        if len(self.responses) + self.disconnected < self.clients:
            return
        if self.disconnected:
            self.future.set_exception(self.error(f"{self.disconnected} of {self.clients} recipients left"))
        else:
            self.future.set_result(self.responses)

    def error(self, why: str) -> AcksMissingError:
        return AcksMissingError(
            f"{why} before acknowledging ({len(self.responses)} answers of {self.clients})",
            list(self.responses),
            self.clients,
            self.disconnected,
        )


#: With other servers involved and no timeout, how long :func:`gather` waits at most (seconds): a
#: client that leaves on another node is never reported, so "as long as they are connected" cannot
#: be told there.
CLUSTER_ACK_WAIT = 60.0


async def gather(adapter: Adapter, packet: EventPacket, selector: Selector, first: bool = False) -> list[Any]:
    """Send ``packet`` to the selected sockets and return every recipient's answer (arrival order).

    Waits ``selector.timeout`` seconds at most, counted from the call (None: as long as it takes
    on one server; :data:`CLUSTER_ACK_WAIT` when other servers are involved); then, or as soon as
    every recipient still connected answered if some left, raises
    :class:`~aiosio.exceptions.AcksMissingError` carrying the answers that arrived. No recipient:
    ``[]`` at once. ``first``: return at the first answer (a sid selector: there is one socket,
    whichever server holds it, and a slow server elsewhere must not delay its answer).
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[list[Any]] = loop.create_future()
    collector = _Collector(future, first)
    request: AckRequest | None = None
    try:
        async with asyncio.timeout(selector.timeout) as deadline:
            request = await adapter.broadcast_with_ack(packet, selector, collector.count, collector.ack)
            if selector.timeout is None and request.servers > 1:
                deadline.reschedule(loop.time() + CLUSTER_ACK_WAIT)
            collector.expect(request.servers)
            return await asyncio.shield(future)
    except TimeoutError:
        if future.done() and not future.cancelled():
            return future.result()  # completed as the timer fired
        error = collector.error("timeout reached")
        future.cancel()
        raise error from None
    finally:
        if request is not None:
            request.forget()

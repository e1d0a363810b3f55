"""Which of a worker's keep-alive connections wait for their next request with nothing of it read.

A draining worker moves those to another worker with no bytes (:mod:`~aiosio.workers.drain`). A
connection whose client has sent part of a request (some header lines) looks idle to aiohttp's
handler: the bytes sit in its parser, where they cannot be taken back; moving it would lose them
(the next worker would answer 400). :class:`WatchedRunner` wraps every connection's protocol and
counts a connection as *started* from the first byte that produces no message until a message
comes out of the parser.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

__all__ = ["WatchedRunner", "is_idle"]


class _Watched(asyncio.Protocol):
    """aiohttp's protocol for one connection, noting whether a request has begun arriving."""

    def __init__(self, inner: Any, started: set[Any]) -> None:
        self.inner = inner
        self.started = started
        #: The body of the last request read (bytes without a new message are its body until it ends).
        self.payload: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        inner = self.inner
        count = getattr(inner, "_request_count", None)
        payload = self.payload
        in_body = payload is not None and not payload.is_eof()
        inner.data_received(data)
        if count is None:  # not an aiohttp handler we know: never idle
            self.started.add(inner)
        elif getattr(inner, "_request_count", count) != count:
            self.started.discard(inner)
            messages = getattr(inner, "_messages", None)
            self.payload = messages[-1][1] if messages else None
        elif not in_body:
            self.started.add(inner)  # part of a request: its bytes are in the parser now

    def eof_received(self) -> bool | None:
        result: bool | None = self.inner.eof_received()
        return result

    def connection_lost(self, exc: Exception | None) -> None:
        self.started.discard(self.inner)
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class _Factory:
    """The protocol factory the sites (and the hand-over server) get: aiohttp's, watched."""

    def __init__(self, server: web.Server, started: set[Any]) -> None:
        self.server = server
        self.started = started

    def __call__(self) -> asyncio.Protocol:
        return _Watched(self.server(), self.started)

    @property
    def connections(self) -> list[Any]:
        """The connections aiohttp's server serves."""
        return list(self.server.connections)


class WatchedRunner(web.AppRunner):
    """An :class:`aiohttp.web.AppRunner` that knows which connections have begun a request."""

    __slots__ = ("started",)

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        #: The connection handlers holding part of a request that produced no message yet.
        self.started: set[Any] = set()

    @property
    def server(self) -> Any:
        """aiohttp's protocol factory, each connection watched (None before ``setup``)."""
        inner = super().server
        return None if inner is None else _Factory(inner, self.started)


def is_idle(runner: web.AppRunner, proto: Any) -> bool:
    """Whether the connection of ``proto`` (an aiohttp connection handler of ``runner``) waits for
    its next request with nothing of it read. Only a :class:`WatchedRunner` can tell for sure:
    with another runner, a connection holding part of a request counts as idle."""
    waiter = getattr(proto, "_waiter", None)
    if isinstance(runner, WatchedRunner) and proto in runner.started:
        return False
    return (
        waiter is not None
        and not waiter.done()
        and not getattr(proto, "_messages", True)
        and getattr(proto, "_payload_parser", None) is None
        and not getattr(proto, "_upgraded", False)
    )

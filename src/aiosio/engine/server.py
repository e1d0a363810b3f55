"""The Engine.IO session registry and handshake, shared by the Engine.IO and Socket.IO servers."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import orjson

from ..protocol.engineio import PacketType
from ..protocol.frames import Frame
from .options import EngineOptions
from .session import CloseReason, EngineSession

logger = logging.getLogger("aiosio.engine")


class EngineHandler(Protocol):
    """What the layer above an :class:`EngineCore` implements.

    It may also define ``urgent(session, data) -> bool``: whether a MESSAGE read while the handler
    backlog is full is handled at once anyway (a Socket.IO ACK, which a running handler may be
    waiting for) instead of waiting in line behind the events. Without it every message waits.
    """

    async def on_connect(self, session: EngineSession) -> bool:
        """A session was opened (before the client sees the handshake); False refuses it."""
        ...

    def on_message(self, session: EngineSession, data: str | bytes) -> None:
        """A MESSAGE arrived. Must not block: long work goes in a task (see ``task_started``)."""
        ...

    def on_ping(self, session: EngineSession) -> None:
        """A PING is about to be sent: the layer above may check its own deadlines (or close)."""
        ...

    def on_disconnect(self, session: EngineSession, reason: str) -> None:
        """The session ended, for ``reason`` (a :class:`CloseReason` string). Called once."""
        ...


def _never_urgent(_session: EngineSession, _data: str | bytes) -> bool:
    return False


class EngineCore:
    """Owns every live session of one server: creation, lookup, the handshake packet and shutdown."""

    def __init__(self, options: EngineOptions, handler: EngineHandler) -> None:
        self.options = options
        self.handler = handler
        #: The handler's ``urgent`` (see :class:`EngineHandler`), or "never".
        self.urgent: Callable[[EngineSession, str | bytes], bool] = getattr(handler, "urgent", _never_urgent)
        self.sessions: dict[str, EngineSession] = {}
        #: Traffic of the sessions that ended: packets in, packets out, bytes in, bytes out.
        self.traffic_closed = [0, 0, 0, 0]
        self._farewells: dict[str, bytes] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_error_log = 0.0
        self._suppressed_errors = 0

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop, bound on first use (servers are created before the loop runs)."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop

    def new_session(self, transport: str, request: Any) -> EngineSession:
        """Register a new session. The sid is ``sid_prefix`` then 18 random bytes, URL-safe, and a
        polling bearer token."""
        prefix = self.options.sid_prefix
        sid = prefix + secrets.token_urlsafe(18)
        while sid in self.sessions:  # pragma: no cover - 144 random bits
            sid = prefix + secrets.token_urlsafe(18)
        session = EngineSession(self, sid, transport, request)
        self.sessions[sid] = session
        return session

    def open_frame(self, session: EngineSession) -> Frame:
        """The OPEN packet for ``session``'s handshake."""
        opts = self.options
        upgrades = (
            ["websocket"]
            if session.transport == "polling" and opts.allow_upgrades and "websocket" in opts.transports
            else []
        )
        body = {
            "sid": session.sid,
            "upgrades": upgrades,
            "pingInterval": round(opts.ping_interval * 1000),
            "pingTimeout": round(opts.ping_timeout * 1000),
            "maxPayload": opts.max_http_buffer_size,
        }
        return Frame.text(PacketType.OPEN, orjson.dumps(body))

    def get(self, sid: str) -> EngineSession | None:
        """The live session with this sid, if any."""
        return self.sessions.get(sid)

    def forget(self, session: EngineSession) -> None:
        """Drop a closed session from the registry."""
        if self.sessions.get(session.sid) is session:
            del self.sessions[session.sid]

    def keep_farewell(self, sid: str, payload: bytes) -> None:
        """Hold the last payload of a polling session the server closed (ending with CLOSE).

        A polling client between two GETs would otherwise learn of the close only as "unknown sid"
        and take it for an error; its next GET gets this payload instead. Kept for ``ping_timeout``.
        """
        self._farewells[sid] = payload
        self.loop.call_later(self.options.ping_timeout, self._farewells.pop, sid, None)

    def take_farewell(self, sid: str) -> bytes | None:
        """The farewell payload of a closed polling session, once."""
        return self._farewells.pop(sid, None)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` in a task the core keeps a reference to (and cancels at shutdown)."""
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def log_protocol_error(self, session: EngineSession, detail: str) -> None:
        """One WARNING line per protocol violation, at most one a second, never a traceback."""
        now = time.monotonic()
        if now - self._last_error_log >= 1.0:
            extra = f" (+{self._suppressed_errors} more)" if self._suppressed_errors else ""
            logger.warning("closing %s: parse error: %s%s", session.sid, detail, extra)
            self._last_error_log = now
            self._suppressed_errors = 0
        else:
            self._suppressed_errors += 1

    async def shutdown(self, reason: str = CloseReason.SERVER_SHUTDOWN, timeout: float = 5.0) -> None:
        """Close every session with ``reason``, then wait (bounded) for their tasks to finish."""
        for session in list(self.sessions.values()):
            session.close(reason)
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()

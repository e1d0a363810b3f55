"""``sio.eio``: python-engineio's ``AsyncServer`` surface over the Socket.IO server's engine."""

from __future__ import annotations

import logging
from typing import Any

from ..engine.options import EngineOptions
from ..engine.server import EngineHandler
from ..engine.session import EngineSession
from ..engineio import AsyncServer as EngineIOServer


class SocketIOEngine(EngineIOServer):
    """The Engine.IO server under a Socket.IO :class:`~aiosio.AsyncServer` (its ``eio`` attribute).

    Sessions are handled by the Socket.IO layer directly (no Engine.IO event handlers in between);
    this object gives apps python-engineio's API on them: ``await sio.eio.disconnect(eio_sid)``
    closes a client's transport, ``sio.eio.get_session(eio_sid)`` is the Engine.IO-level user
    session, and so on. Handlers registered with :meth:`on` here are never called, as in
    python-socketio (whose own handlers would be replaced).
    """

    def __init__(
        self, handler: EngineHandler, options: EngineOptions, logger: logging.Logger, async_handlers: bool
    ) -> None:
        self._bind(options, logger, async_handlers, handler)

    def _user_session(self, session: EngineSession) -> dict[Any, Any]:
        conn = session.data
        if conn is None:  # the Socket.IO layer refused the session before it was set up
            raise KeyError("Session is disconnected")
        data: dict[Any, Any] | None = conn.eio_session
        if data is None:
            data = conn.eio_session = {}
        return data

    def _store_user_session(self, session: EngineSession, value: dict[Any, Any]) -> None:
        conn = session.data
        if conn is None:
            raise KeyError("Session is disconnected")
        conn.eio_session = value

"""Engine.IO over aiohttp: one route that serves the handshake, long-polling and WebSocket."""

from __future__ import annotations

import logging
from typing import Protocol

from aiohttp import web

from ..engine.request import register_environ_builder
from ..engine.server import EngineCore
from .cors import OriginPolicy
from .environ import build_environ
from .errors import (
    BAD_HANDSHAKE_METHOD,
    BAD_REQUEST,
    FORBIDDEN,
    UNKNOWN_SID,
    UNKNOWN_TRANSPORT,
    UNSUPPORTED_PROTOCOL_VERSION,
    error_response,
)
from .polling import PollingTransport
from .websocket import WebSocketTransport

logger = logging.getLogger("aiosio.transport")

__all__ = [
    "BAD_HANDSHAKE_METHOD",
    "BAD_REQUEST",
    "FORBIDDEN",
    "UNKNOWN_SID",
    "UNKNOWN_TRANSPORT",
    "UNSUPPORTED_PROTOCOL_VERSION",
    "AiohttpEngineTransport",
    "HandOff",
    "hand_off",
]

register_environ_builder(web.BaseRequest, build_environ)


class HandOff(Protocol):
    """What a worker of ``aiosio run --workers N`` installs as :data:`hand_off`
    (:class:`aiosio.workers.routing.HandOff`)."""

    async def __call__(
        self, request: web.Request, sid: str, transport: AiohttpEngineTransport
    ) -> web.StreamResponse | None:
        """Answer a request for a session whose sid does not carry this server's ``sid_prefix`` by
        handing it to the worker that owns it; None when no worker has it (answered here then)."""
        ...


#: Set in each worker of ``--workers N``; None in a single process.
hand_off: HandOff | None = None


class AiohttpEngineTransport(PollingTransport, WebSocketTransport):
    """Adapts aiohttp requests to an :class:`EngineCore`. Every request gets an answer."""

    def __init__(self, core: EngineCore) -> None:
        self.core = core
        opts = core.options
        self.origins = OriginPolicy(opts.cors_allowed_origins, opts.cors_credentials)

    def handing_off(self) -> bool:
        """Whether this process is a worker of ``--workers N`` (requests may come the long way)."""
        return hand_off is not None

    def attach(self, app: web.Application, path: str) -> None:
        """Serve Engine.IO at ``/<path>/`` (with and without the trailing slash)."""
        base = "/" + path.strip("/")
        app.router.add_route("*", base + "/", self.handle)
        app.router.add_route("*", base, self.handle)

    # -- dispatch -----------------------------------------------------------------------------------

    def _error(self, request: web.Request, code: tuple[int, str], status: int = 400) -> web.Response:
        return error_response(self.origins, request, code, status)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The single entry point for every Engine.IO request."""
        if not self.origins.allowed(request):
            logger.info("refused origin %r", request.headers.get("Origin"))
            return self._error(request, FORBIDDEN, 403)
        if request.method == "OPTIONS":
            return web.Response(status=204, headers=self.origins.preflight_headers(request))
        query = request.query
        if query.get("EIO") != "4":
            return self._error(request, UNSUPPORTED_PROTOCOL_VERSION)
        transport = query.get("transport")
        if transport not in self.core.options.transports:
            return self._error(request, UNKNOWN_TRANSPORT)
        if transport == "websocket" and request.headers.get("Upgrade", "").lower() != "websocket":
            return self._error(request, BAD_REQUEST)
        sid = query.get("sid")
        if sid is None:
            if request.method != "GET":
                return self._error(request, BAD_HANDSHAKE_METHOD)
            if transport == "websocket":
                # The read loop runs in this frame, not under the handshake's: one coroutine frame
                # less kept alive for every idle connection.
                ws, opened = await self._websocket_handshake(request)
                if opened is not None and isinstance(ws, web.WebSocketResponse):
                    await self._read_loop(ws, opened)
                return ws
            return await self._polling_handshake(request)
        if hand_off is not None and not sid.startswith(self.core.options.sid_prefix):
            forwarded = await hand_off(request, sid, self)
            if forwarded is not None:
                return forwarded
        session = self.core.get(sid)
        if session is not None and not session.check_heartbeat():
            session = None
        if session is None:
            if transport == "polling" and request.method == "GET":
                farewell = self.core.take_farewell(sid)
                if farewell is not None:
                    return self._payload_response(request, farewell)
            return self._error(request, UNKNOWN_SID)
        if transport == "websocket":
            return await self._websocket_upgrade(request, session)
        if not session.machine.polling:
            return self._error(request, BAD_REQUEST)
        if request.method == "GET":
            return await self._poll(request, session)
        if request.method == "POST":
            return await self._post(request, session)
        return self._error(request, BAD_HANDSHAKE_METHOD)

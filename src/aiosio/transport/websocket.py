"""Engine.IO over aiohttp's WebSocket: the direct handshake, the upgrade from polling, the read loop."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import WSMsgType, web

from ..engine.server import EngineCore
from ..engine.session import CloseReason, EngineSession
from ..engine.sink import RawSink
from ..protocol.eio_session import ProtocolError
from ..protocol.engineio import decode_binary, decode_text
from ..protocol.errors import ParseError
from .aiohttp_compat import release_after_upgrade
from .cors import OriginPolicy
from .errors import BAD_REQUEST, error_response

logger = logging.getLogger("aiosio.transport")

#: The message types after which aiohttp's WebSocket has nothing more to read.
_WS_END = frozenset({WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED})

#: Looked up once: an enum member costs ~0.1 µs on every access in Python 3.11 (each message).
_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY


class WebSocketTransport:
    """The WebSocket half of :class:`~aiosio.transport.server.AiohttpEngineTransport`."""

    core: EngineCore
    origins: OriginPolicy

    def _ws_error(self, request: web.Request, code: tuple[int, str]) -> web.Response:
        return error_response(self.origins, request, code, 400)

    def _websocket(self) -> web.WebSocketResponse:
        return web.WebSocketResponse(
            # aiohttp refuses a message of exactly max_msg_size bytes; maxPayload itself is allowed.
            max_msg_size=self.core.options.max_http_buffer_size + 1,
            compress=False,
            autoping=True,
            heartbeat=None,
        )

    async def _prepare(self, ws: web.WebSocketResponse, request: web.Request) -> bool:
        """Send the 101 answer; False if the client hung up (or reset the connection) meanwhile.

        That is a hang-up like any other, logged at DEBUG; the caller then returns a fresh response,
        which aiohttp fails to write and drops quietly (a half-prepared WebSocket would raise).
        """
        try:
            await ws.prepare(request)
        except ConnectionError as exc:
            logger.debug("WebSocket handshake from %s failed: %s", request.remote, exc)
            return False
        release_after_upgrade(request, ws)
        return True

    async def _websocket_handshake(
        self, request: web.Request
    ) -> tuple[web.StreamResponse, EngineSession | None]:
        """Open a session directly on WebSocket; the session is None if it was refused or lost."""
        ws = self._websocket()
        if not await self._prepare(ws, request):
            return web.Response(status=400), None
        wt = request.transport
        if wt is None:
            return ws, None
        session = self.core.new_session("websocket", request)
        session.attach_websocket(RawSink(wt, ws.close))
        session.send(self.core.open_frame(session))
        if not await self.core.handler.on_connect(session):
            session.close(CloseReason.SERVER_DISCONNECT)
            return ws, None
        return ws, session

    async def _websocket_upgrade(self, request: web.Request, session: EngineSession) -> web.StreamResponse:
        if not self.core.options.allow_upgrades or session.closed:
            return self._ws_error(request, BAD_REQUEST)
        ws = self._websocket()
        if not await self._prepare(ws, request):
            return web.Response(status=400)  # never reaches the client: it is gone
        wt = request.transport
        if wt is None:
            return ws
        sink = RawSink(wt, ws.close)
        try:
            session.begin_upgrade(sink)
        except ProtocolError:
            # A second WebSocket for a sid that has (or is getting) one, or a session that ended
            # meanwhile: accepted, then closed, as the reference server does; the session stays with
            # the first. WebSocket clients often treat a refused handshake as an unhandled error
            # rather than a close.
            await ws.close()
            return ws
        try:
            async with asyncio.timeout(self.core.options.upgrade_timeout):
                # The session's machine walks the sequence: probe, its answer, then UPGRADE.
                while session.upgrading:
                    msg = await ws.receive()
                    if msg.type is not WSMsgType.TEXT:
                        raise ProtocolError(f"{msg.type.name} message during the upgrade")
                    session.upgrade_message(msg.data, sink)
        except (TimeoutError, ParseError, ConnectionError) as exc:
            session.abort_upgrade()
            logger.debug("upgrade of %s failed: %s", session.sid, exc)
            await ws.close()
            return ws
        except BaseException:
            session.abort_upgrade()  # cancelled (client gone, server stopping): back to polling
            raise
        if session.closed:
            await ws.close()
            return ws
        await self._read_loop(ws, session)
        return ws

    async def _read_loop(self, ws: web.WebSocketResponse, session: EngineSession) -> None:
        """Feed WebSocket messages to the session until either side closes."""
        reason = CloseReason.TRANSPORT_CLOSE
        receive = ws.receive
        try:
            # receive() itself rather than ``async for``: one coroutine less per message, and per
            # idle connection (its suspended __anext__ frame).
            while True:
                msg = await receive()
                mtype = msg.type
                try:
                    if mtype is _TEXT:
                        data = msg.data
                        if data[:1] == "4":
                            # MESSAGE, nearly every frame: straight up, without a Packet object.
                            session.message(data[1:])
                            if session.closed:
                                break
                            if session.saturated:
                                await session.wait_inflight()
                            continue
                        packet = decode_text(data)
                    elif mtype is _BINARY:
                        packet = decode_binary(msg.data)
                    elif mtype in _WS_END:
                        # What ends ``async for`` over aiohttp's WebSocket: the socket is closed.
                        if ws.exception() is not None:
                            reason = CloseReason.TRANSPORT_ERROR
                        break
                    else:
                        reason = CloseReason.TRANSPORT_ERROR
                        break
                except ParseError as exc:
                    session.protocol_error(str(exc))
                    break
                session.receive(packet)
                if session.closed:
                    break
                if session.saturated:
                    await session.wait_inflight()
        except (ConnectionError, asyncio.CancelledError):
            reason = CloseReason.TRANSPORT_ERROR
            session.close(reason, send_close=False)
            raise
        finally:
            if not session.closed:
                session.close(reason, send_close=False)
        if not ws.closed:
            await ws.close()

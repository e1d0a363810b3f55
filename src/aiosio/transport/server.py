"""Engine.IO over aiohttp: one route that serves the handshake, long-polling and WebSocket."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

import orjson
from aiohttp import WSMsgType, web
from aiohttp.http_exceptions import HttpProcessingError

from ..engine.request import register_environ_builder
from ..engine.server import EngineCore
from ..engine.session import CloseReason, EngineSession
from ..engine.sink import RawSink
from ..protocol.eio_session import ProtocolError
from ..protocol.engineio import decode_binary, decode_payload, decode_text
from ..protocol.errors import ParseError
from .cookie import sid_cookie
from .cors import OriginPolicy
from .environ import build_environ

logger = logging.getLogger("aiosio.transport")

# Engine.IO error codes and their messages, as the reference server sends them.
UNKNOWN_TRANSPORT = (0, "Transport unknown")
UNKNOWN_SID = (1, "Session ID unknown")
BAD_HANDSHAKE_METHOD = (2, "Bad handshake method")
BAD_REQUEST = (3, "Bad request")
FORBIDDEN = (4, "Forbidden")
UNSUPPORTED_PROTOCOL_VERSION = (5, "Unsupported protocol version")

_TEXT_PLAIN = "text/plain; charset=UTF-8"

#: The message types after which aiohttp's WebSocket has nothing more to read.
_WS_END = frozenset({WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED})

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


class AiohttpEngineTransport:
    """Adapts aiohttp requests to an :class:`EngineCore`. Every request gets an answer."""

    def __init__(self, core: EngineCore) -> None:
        self.core = core
        opts = core.options
        self.origins = OriginPolicy(opts.cors_allowed_origins, opts.cors_credentials)

    def attach(self, app: web.Application, path: str) -> None:
        """Serve Engine.IO at ``/<path>/`` (with and without the trailing slash)."""
        base = "/" + path.strip("/")
        app.router.add_route("*", base + "/", self.handle)
        app.router.add_route("*", base, self.handle)

    # -- dispatch -----------------------------------------------------------------------------------

    def _error(self, request: web.Request, code: tuple[int, str], status: int = 400) -> web.Response:
        return web.Response(
            status=status,
            body=orjson.dumps({"code": code[0], "message": code[1]}),
            content_type="application/json",
            headers=self.origins.headers(request) if self.origins.allowed(request) else None,
        )

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
        is_ws_request = request.headers.get("Upgrade", "").lower() == "websocket"
        if transport == "websocket" and not is_ws_request:
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

    # -- long-polling -------------------------------------------------------------------------------

    def _payload_response(self, request: web.Request, body: bytes) -> web.Response:
        response = web.Response(
            body=body, headers=self.origins.headers(request), content_type="text/plain", charset="UTF-8"
        )
        opts = self.core.options
        if opts.http_compression and len(body) >= opts.compression_threshold:
            response.enable_compression()
        return response

    async def _polling_handshake(self, request: web.Request) -> web.StreamResponse:
        session = self.core.new_session("polling", request)
        session.send(self.core.open_frame(session))
        if not await self.core.handler.on_connect(session):
            session.close(CloseReason.SERVER_DISCONNECT, send_close=False)
            return self._error(request, FORBIDDEN, 403)
        response = self._payload_response(request, session.take_payload())
        self._set_cookie(response, session)
        return response

    def _set_cookie(self, response: web.StreamResponse, session: EngineSession) -> None:
        cookie = sid_cookie(self.core.options.cookie, session.sid)
        if cookie is not None:
            response.headers.add("Set-Cookie", cookie)

    async def _poll(self, request: web.Request, session: EngineSession) -> web.StreamResponse:
        body = await session.poll()
        if body is None:
            return self._error(request, BAD_REQUEST)
        transport = request.transport
        if transport is None or transport.is_closing():
            # The client hung up while this GET waited: the packets just taken from the queue cannot
            # reach it, so the session ends (as in engine.io) rather than carry on without them.
            session.close(CloseReason.TRANSPORT_ERROR, send_close=False)
        return self._payload_response(request, body)

    async def _read_body(self, request: web.Request) -> bytes | None:
        """The request body, or None once it exceeds ``max_http_buffer_size`` (checked while reading)."""
        limit = self.core.options.max_http_buffer_size
        if request.content_length is not None and request.content_length > limit:
            return None
        content = request.content
        if content.is_eof():
            # The whole body came with the headers (the usual small POST): no need to wait for more.
            body = content.read_nowait(-1)
            return body if len(body) <= limit else None
        return await self._read_rest(request, bytearray())

    async def _read_rest(self, request: web.Request, body: bytearray) -> bytes | None:
        limit = self.core.options.max_http_buffer_size
        # A body that stops arriving must not hold the request forever: it gets as long as a client
        # may stay silent before the heartbeat gives up on it.
        async with asyncio.timeout(self.core.options.ping_interval + self.core.options.ping_timeout):
            async for chunk in request.content.iter_any():
                body += chunk
                if len(body) > limit:
                    return None
        return bytes(body)

    async def _post(self, request: web.Request, session: EngineSession) -> web.StreamResponse:
        try:
            body = await self._read_body(request)
        except (ConnectionError, HttpProcessingError, TimeoutError) as exc:
            # The client hung up mid-body, stalled, or broke the chunked encoding: the packets of this
            # POST are lost, so the session cannot go on (as in engine.io). Answered here, not by
            # aiohttp, which would log a traceback for every such request.
            logger.debug("POST for %s failed: %s", session.sid, exc)
            session.close(CloseReason.TRANSPORT_ERROR)
            return self._error(request, BAD_REQUEST)
        if body is None:
            session.close(CloseReason.TRANSPORT_ERROR)
            return web.Response(
                status=413,
                body=orjson.dumps({"code": 3, "message": "Payload too large"}),
                content_type="application/json",
                headers=self.origins.headers(request),
            )
        try:
            packets = decode_payload(body, self.core.options.max_payload_packets)
        except ParseError as exc:
            session.protocol_error(str(exc))
            return self._error(request, BAD_REQUEST)
        polled = session._poll is not None
        await session.receive_payload(packets)
        if hand_off is not None and not polled and session.close_reason == CloseReason.CLIENT_DISCONNECT:
            # Between workers a GET sent just before this CLOSE may come the long way (handed over)
            # and arrive after it: it gets the NOOP it would have got had it arrived first.
            self.core.keep_farewell(session.sid, b"6")
        if session.close_reason == CloseReason.PARSE_ERROR:
            return self._error(request, BAD_REQUEST)
        await session.wait_inflight()
        return web.Response(body=b"ok", headers=self.origins.headers(request), content_type="text/html")

    # -- websocket ----------------------------------------------------------------------------------

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
            return self._error(request, BAD_REQUEST)
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
                    if mtype is WSMsgType.TEXT:
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
                    elif mtype is WSMsgType.BINARY:
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

"""Engine.IO over ASGI: the handshake, long-polling over ``http`` scopes, WebSocket over ``websocket``.

The same engine as the aiohttp transport (:mod:`aiosio.transport.server`) and the same rules: the
query is validated (``EIO=4``, ``transport``, ``sid``), ``Origin`` is checked for HTTP and WebSocket
alike, POST bodies are capped while they are read (413), and every request gets an answer
(Engine.IO JSON errors). A refused WebSocket gets that answer as an HTTP response where the server
supports the ``websocket.http.response`` extension (uvicorn does), else a WebSocket close.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from ..engine.server import EngineCore
from ..engine.session import CloseReason, EngineSession
from ..protocol.eio_session import ProtocolError
from ..protocol.engineio import decode_binary, decode_payload, decode_text
from ..protocol.errors import ParseError
from .asgi_request import AsgiRequest, Scope
from .asgi_sink import CLOSE_TIMEOUT, CLOSE_TOO_BIG, AsgiSink
from .cookie import sid_cookie
from .cors import OriginPolicy
from .errors import (
    BAD_HANDSHAKE_METHOD,
    BAD_REQUEST,
    FORBIDDEN,
    UNKNOWN_SID,
    UNKNOWN_TRANSPORT,
    UNSUPPORTED_PROTOCOL_VERSION,
)

logger = logging.getLogger("aiosio.transport")

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

_TEXT = (b"content-type", b"text/plain; charset=UTF-8")
_JSON = (b"content-type", b"application/json")
_HTML = (b"content-type", b"text/html")

#: Statuses whose response has no body, and so no ``content-length`` (RFC 9110, 8.6).
_NO_BODY = frozenset({204, 304})


class Response:
    """An HTTP answer to send: status, headers, body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Headers, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    async def send(self, send: Send) -> None:
        """Send it as ``http.response.start`` and one ``http.response.body``."""
        headers = self.headers
        if self.status not in _NO_BODY:
            headers = [*headers, (b"content-length", str(len(self.body)).encode())]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


class ClientGone(Exception):
    """The client disconnected before its request was read."""


class AsgiEngineTransport:
    """Adapts ASGI ``http`` and ``websocket`` scopes to an :class:`EngineCore`."""

    def __init__(self, core: EngineCore) -> None:
        self.core = core
        opts = core.options
        self.origins = OriginPolicy(opts.cors_allowed_origins, opts.cors_credentials)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point for every Engine.IO request (``http`` or ``websocket`` scope)."""
        request = AsgiRequest(scope)
        if request.is_websocket:
            await self._websocket(request, receive, send)
            return
        response = await self._http(request, receive)
        try:
            await response.send(send)
        except OSError as exc:  # the client went away meanwhile
            logger.debug("response not sent: %r", exc)

    # -- answers ------------------------------------------------------------------------------------

    def _cors(self, request: AsgiRequest) -> Headers:
        return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.origins.headers(request).items()]

    def _error(self, request: AsgiRequest, code: tuple[int, str], status: int = 400) -> Response:
        headers = [_JSON]
        if self.origins.allowed(request):
            headers += self._cors(request)
        return Response(status, headers, orjson.dumps({"code": code[0], "message": code[1]}))

    def _payload(self, request: AsgiRequest, body: bytes) -> Response:
        headers = [_TEXT, *self._cors(request)]
        opts = self.core.options
        if opts.http_compression and len(body) >= opts.compression_threshold:
            accepted = request.headers.get("Accept-Encoding", "").lower()
            for encoding, wbits in (("gzip", 31), ("deflate", 15)):
                if encoding in accepted:
                    packer = zlib.compressobj(wbits=wbits)
                    body = packer.compress(body) + packer.flush()
                    headers.append((b"content-encoding", encoding.encode()))
                    break
        return Response(200, headers, body)

    # -- HTTP ---------------------------------------------------------------------------------------

    def _check(self, request: AsgiRequest) -> Response | None:
        """The checks every request passes first (origin, protocol version, transport)."""
        if not self.origins.allowed(request):
            logger.info("refused origin %r", request.headers.get("Origin"))
            return self._error(request, FORBIDDEN, 403)
        query = request.query
        if query.get("EIO") != "4":
            return self._error(request, UNSUPPORTED_PROTOCOL_VERSION)
        transport = query.get("transport")
        if transport not in self.core.options.transports:
            return self._error(request, UNKNOWN_TRANSPORT)
        if (transport == "websocket") != request.is_websocket:
            return self._error(request, BAD_REQUEST)
        return None

    def _session(self, request: AsgiRequest, sid: str) -> EngineSession | Response:
        session = self.core.get(sid)
        if session is not None and not session.check_heartbeat():
            session = None
        if session is None:
            if not request.is_websocket and request.method == "GET":
                farewell = self.core.take_farewell(sid)
                if farewell is not None:
                    return self._payload(request, farewell)
            return self._error(request, UNKNOWN_SID)
        return session

    async def _http(self, request: AsgiRequest, receive: Receive) -> Response:
        if request.method == "OPTIONS" and self.origins.allowed(request):
            headers = [
                (k.encode("latin-1"), v.encode("latin-1"))
                for k, v in self.origins.preflight_headers(request).items()
            ]
            return Response(204, headers, b"")
        refused = self._check(request)
        if refused is not None:
            return refused
        sid = request.query.get("sid")
        if sid is None:
            if request.method != "GET":
                return self._error(request, BAD_HANDSHAKE_METHOD)
            return await self._polling_handshake(request)
        session = self._session(request, sid)
        if isinstance(session, Response):
            return session
        if not session.machine.polling:
            return self._error(request, BAD_REQUEST)
        if request.method == "GET":
            return await self._poll(request, session, receive)
        if request.method == "POST":
            return await self._post(request, session, receive)
        return self._error(request, BAD_HANDSHAKE_METHOD)

    async def _polling_handshake(self, request: AsgiRequest) -> Response:
        session = self.core.new_session("polling", request)
        session.send(self.core.open_frame(session))
        if not await self.core.handler.on_connect(session):
            session.close(CloseReason.SERVER_DISCONNECT, send_close=False)
            return self._error(request, FORBIDDEN, 403)
        response = self._payload(request, session.take_payload())
        cookie = sid_cookie(self.core.options.cookie, session.sid)
        if cookie is not None:
            response.headers.append((b"set-cookie", cookie.encode("latin-1")))
        return response

    def _stopping(self, cancel: asyncio.CancelledError) -> bool:
        """Whether a cancellation is the server stopping: the Socket.IO server's shutdown has begun,
        or the ASGI server says so (uvicorn's graceful-shutdown timeout cancels with a message
        naming it)."""
        if getattr(self.core.handler, "_closing", False):
            return True
        return any("shutdown" in str(arg) for arg in cancel.args)

    async def _poll(self, request: AsgiRequest, session: EngineSession, receive: Receive) -> Response:
        # A long-poll GET waits for packets or for the client to hang up (http.disconnect), the
        # only thing the ASGI server tells meanwhile. A hang-up ends the session at once (as in
        # engine.io): packets taken from the queue for a gone client would be lost.
        hangup = asyncio.ensure_future(_wait_disconnect(receive))
        waiting = asyncio.ensure_future(session.poll())
        try:
            await asyncio.wait((waiting, hangup), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError as cancel:
            hangup.cancel()
            waiting.cancel()
            await asyncio.wait((waiting,))  # the session's waiting GET is cleared
            task = asyncio.current_task()
            if task is None or task.cancelling() > 1 or not self._stopping(cancel):
                session.close(CloseReason.TRANSPORT_ERROR, send_close=False)
                raise
            # uvicorn cancels requests still running when its graceful shutdown times out (it
            # waits for them before the lifespan shutdown, where sio.shutdown() runs): the server
            # is stopping, so the client gets the CLOSE packet rather than a broken response.
            task.uncancel()
            session.close(CloseReason.SERVER_SHUTDOWN)
            return self._payload(request, self.core.take_farewell(session.sid) or b"1")
        gone = hangup.done() and not hangup.cancelled() and hangup.exception() is None
        hangup.cancel()
        if not waiting.done():
            waiting.cancel()
            await asyncio.wait((waiting,))
        if gone:
            session.close(CloseReason.TRANSPORT_ERROR, send_close=False)
            return self._payload(request, b"6")  # never arrives: the client is gone
        body = waiting.result()
        if body is None:
            return self._error(request, BAD_REQUEST)
        return self._payload(request, body)

    async def _read_body(self, request: AsgiRequest, receive: Receive) -> bytes | None:
        """The request body, or None once it exceeds ``max_http_buffer_size`` (checked while reading).

        Raises :class:`ClientGone` if the client hangs up, TimeoutError if the body stops arriving.
        """
        opts = self.core.options
        limit = opts.max_http_buffer_size
        length = request.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > limit:
            return None
        body = bytearray()
        async with asyncio.timeout(opts.ping_interval + opts.ping_timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone
                body += message.get("body", b"")
                if len(body) > limit:
                    return None
                if not message.get("more_body", False):
                    return bytes(body)

    async def _post(self, request: AsgiRequest, session: EngineSession, receive: Receive) -> Response:
        try:
            body = await self._read_body(request, receive)
        except (ClientGone, TimeoutError) as exc:
            logger.debug("POST for %s failed: %r", session.sid, exc)
            session.close(CloseReason.TRANSPORT_ERROR)
            return self._error(request, BAD_REQUEST)
        if body is None:
            session.close(CloseReason.TRANSPORT_ERROR)
            return Response(
                413, [_JSON, *self._cors(request)], orjson.dumps({"code": 3, "message": "Payload too large"})
            )
        try:
            packets = decode_payload(body, self.core.options.max_payload_packets)
        except ParseError as exc:
            session.protocol_error(str(exc))
            return self._error(request, BAD_REQUEST)
        await session.receive_payload(packets)
        if session.close_reason == CloseReason.PARSE_ERROR:
            return self._error(request, BAD_REQUEST)
        await session.wait_inflight()
        return Response(200, [_HTML, *self._cors(request)], b"ok")

    # -- WebSocket ----------------------------------------------------------------------------------

    async def _refuse(self, request: AsgiRequest, send: Send, response: Response) -> None:
        """Answer a WebSocket request that is not accepted: its HTTP error if the server can send
        one, else a close (uvicorn answers that with 403)."""
        if "websocket.http.response" in request.scope.get("extensions", {}):
            headers = [*response.headers, (b"content-length", str(len(response.body)).encode())]
            await send(
                {"type": "websocket.http.response.start", "status": response.status, "headers": headers}
            )
            await send({"type": "websocket.http.response.body", "body": response.body})
        else:
            await send({"type": "websocket.close", "code": 1008, "reason": ""})

    async def _websocket(self, request: AsgiRequest, receive: Receive, send: Send) -> None:
        first = await receive()
        if first["type"] != "websocket.connect":
            return
        refused = self._check(request)
        if refused is not None:
            await self._refuse(request, send, refused)
            return
        sid = request.query.get("sid")
        if sid is None:
            await send({"type": "websocket.accept"})
            sink = self._sink(send)
            session = self.core.new_session("websocket", request)
            session.attach_websocket(sink)
            session.send(self.core.open_frame(session))
            if not await self.core.handler.on_connect(session):
                session.close(CloseReason.SERVER_DISCONNECT)
                await sink.close()
                return
            await self._read_loop(session, sink, receive)
            return
        found = self._session(request, sid)
        if isinstance(found, Response):
            await self._refuse(request, send, found)
            return
        await self._upgrade(request, found, receive, send)

    def _sink(self, send: Send) -> AsgiSink:
        # A close waits for the queue at most CLOSE_TIMEOUT, and never past ping_timeout.
        timeout = min(CLOSE_TIMEOUT, self.core.options.ping_timeout)
        return AsgiSink(send, asyncio.current_task(), timeout)

    async def _upgrade(
        self, request: AsgiRequest, session: EngineSession, receive: Receive, send: Send
    ) -> None:
        if not self.core.options.allow_upgrades or session.closed:
            await self._refuse(request, send, self._error(request, BAD_REQUEST))
            return
        await send({"type": "websocket.accept"})
        sink = self._sink(send)
        try:
            session.begin_upgrade(sink)
        except ProtocolError:
            # A second WebSocket for a sid that has (or is getting) one: accepted, then closed, as the
            # reference server does; the session stays with the first.
            await sink.close()
            return
        try:
            async with asyncio.timeout(self.core.options.upgrade_timeout):
                while session.upgrading:
                    message = await receive()
                    text = message.get("text") if message["type"] == "websocket.receive" else None
                    if text is None:
                        if message["type"] == "websocket.disconnect":
                            sink.disconnected()
                            raise ConnectionError("closed during the upgrade")
                        raise ProtocolError("binary message during the upgrade")
                    session.upgrade_message(text, sink)
        except (TimeoutError, ParseError, ConnectionError) as exc:
            session.abort_upgrade()
            logger.debug("upgrade of %s failed: %s", session.sid, exc)
            await sink.close()
            return
        except BaseException:
            session.abort_upgrade()  # cancelled (client gone, server stopping): back to polling
            raise
        if session.closed:
            await sink.close()
            return
        await self._read_loop(session, sink, receive)

    def _too_big(self, data: str | bytes) -> bool:
        limit = self.core.options.max_http_buffer_size
        if len(data) > limit:
            return True
        if isinstance(data, str) and len(data) * 4 > limit:
            return len(data.encode()) > limit
        return False

    async def _read_loop(self, session: EngineSession, sink: AsgiSink, receive: Receive) -> None:
        """Feed WebSocket messages to the session until either side closes."""
        reason = CloseReason.TRANSPORT_CLOSE
        close_code = 1000
        try:
            while True:
                message = await receive()
                mtype = message["type"]
                if mtype != "websocket.receive":
                    sink.disconnected()  # websocket.disconnect: no close to send
                    break
                text = message.get("text")
                data: str | bytes = text if text is not None else (message.get("bytes") or b"")
                if self._too_big(data):
                    reason, close_code = CloseReason.TRANSPORT_ERROR, CLOSE_TOO_BIG
                    break
                try:
                    if text is not None:
                        if text[:1] == "4":
                            # MESSAGE, nearly every frame: straight up, without a Packet object.
                            session.message(text[1:])
                            if session.closed:
                                break
                            if session.saturated:
                                await session.wait_inflight()
                            continue
                        packet = decode_text(text)
                    else:
                        packet = decode_binary(bytes(message.get("bytes") or b""))
                except ParseError as exc:
                    session.protocol_error(str(exc))
                    break
                session.receive(packet)
                if session.closed:
                    break
                if session.saturated:
                    await session.wait_inflight()
        except asyncio.CancelledError:
            if sink.aborted:
                # A slow consumer: the session aborted its sink, which cancelled this reader.
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()
                return
            session.close(CloseReason.TRANSPORT_ERROR, send_close=False)
            raise
        except OSError:
            reason = CloseReason.TRANSPORT_ERROR
        finally:
            if not session.closed:
                session.close(reason, send_close=False)
        if sink.aborted:
            return
        try:
            await sink.close(close_code, "message too big" if close_code == CLOSE_TOO_BIG else "")
        except asyncio.CancelledError as cancel:
            # The ASGI server gave up waiting for this connection while it stops (the sink was
            # aborted): the connection simply ends, as it would have once closed.
            task = asyncio.current_task()
            if task is None or task.cancelling() > 1 or not self._stopping(cancel):
                raise
            task.uncancel()


async def _wait_disconnect(receive: Receive) -> None:
    """Return once the ASGI server reports ``http.disconnect``."""
    while (await receive())["type"] != "http.disconnect":
        pass

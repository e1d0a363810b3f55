"""Engine.IO long-polling over aiohttp: the GET that waits for packets and the POST that brings them."""

from __future__ import annotations

import asyncio
import logging

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.streams import StreamReader
from multidict import CIMultiDict

from ..engine.server import EngineCore
from ..engine.session import CloseReason, EngineSession
from ..protocol.engineio import decode_payload
from ..protocol.errors import ParseError
from .cookie import sid_cookie
from .cors import OriginPolicy
from .errors import BAD_REQUEST, FORBIDDEN, error_response

logger = logging.getLogger("aiosio.transport")

# The headers of the two answers every polling exchange gets, built once: aiohttp copies the headers
# it is given into each response, so these are never changed. A request with an Origin gets its CORS
# headers first, then the same Content-Type.
_PAYLOAD_TYPE = "text/plain; charset=UTF-8"
_OK_TYPE = "text/html"
_PAYLOAD_HEADERS = CIMultiDict({"Content-Type": _PAYLOAD_TYPE})
_OK_HEADERS = CIMultiDict({"Content-Type": _OK_TYPE})


class PollingTransport:
    """The long-polling half of :class:`~aiosio.transport.server.AiohttpEngineTransport`."""

    core: EngineCore
    origins: OriginPolicy

    def handing_off(self) -> bool:
        """Whether requests may come the long way, from another worker (see the subclass)."""
        return False

    def _error(self, request: web.Request, code: tuple[int, str], status: int = 400) -> web.Response:
        return error_response(self.origins, request, code, status)

    def _headers(
        self, request: web.Request, content_type: str, plain: CIMultiDict[str]
    ) -> CIMultiDict[str] | dict[str, str]:
        if "Origin" not in request.headers:
            return plain
        headers = self.origins.headers(request)
        headers["Content-Type"] = content_type
        return headers

    def _payload_response(self, request: web.Request, body: bytes) -> web.Response:
        response = web.Response(body=body, headers=self._headers(request, _PAYLOAD_TYPE, _PAYLOAD_HEADERS))
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

    def _read_whole(self, content: StreamReader) -> bytes | None:
        """The body that came whole with the headers (the usual small POST), read with no wait; None
        if it exceeds ``max_http_buffer_size`` (its length is the Content-Length, if any)."""
        body = content.read_nowait(-1)
        return body if len(body) <= self.core.options.max_http_buffer_size else None

    async def _read_body(self, request: web.Request) -> bytes | None:
        """The body still arriving, or None once it exceeds ``max_http_buffer_size`` (checked while
        reading)."""
        limit = self.core.options.max_http_buffer_size
        if request.content_length is not None and request.content_length > limit:
            return None
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
        content = request.content
        try:
            body = self._read_whole(content) if content.is_eof() else await self._read_body(request)
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
        taken = session.receive_now(packets)
        if taken < len(packets):  # the handlers fell behind: the rest waits for them
            await session.receive_payload(packets[taken:])
        if self.handing_off() and not polled and session.close_reason == CloseReason.CLIENT_DISCONNECT:
            # Between workers a GET sent just before this CLOSE may come the long way (handed over)
            # and arrive after it: it gets the NOOP it would have got had it arrived first.
            self.core.keep_farewell(session.sid, b"6")
        if session.close_reason == CloseReason.PARSE_ERROR:
            return self._error(request, BAD_REQUEST)
        if session.saturated:
            await session.wait_inflight()
        return web.Response(body=b"ok", headers=self._headers(request, _OK_TYPE, _OK_HEADERS))

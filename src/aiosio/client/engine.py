"""One Engine.IO v4 client connection over aiohttp: polling, WebSocket, and the upgrade between them.

An :class:`EngineConnection` lives for exactly one Engine.IO session. Reconnecting is the Socket.IO
client's job (as in socket.io-client, where the Manager makes a new engine socket for every attempt),
which keeps this class a straight line: ``open()``, then packets flow until the session ends for any
reason, reported once through ``on_close(reason)``, then ``aclose()`` releases every task and socket.

Packets are sent through an outbox drained by one writer task, so the frames of one Socket.IO packet
(a header and its binary attachments) always go out contiguous and in order, and long-polling can batch
whatever accumulated while a POST was in flight into the next one (within the server's ``maxPayload``).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from aiosio.protocol.eio_session import Action, EngineIOState, ProtocolError, Role, State
from aiosio.protocol.engineio import (
    Packet,
    PacketType,
    decode_binary,
    decode_payload,
    decode_text,
    join_payload,
)
from aiosio.protocol.errors import ParseError
from aiosio.protocol.frames import CLOSE, Frame
from aiosio.protocol.handshake import Handshake

from .eio_state import engine_url

#: What ``http_session`` may be: a session to share, or a factory for one per connection.
SessionSource = (
    aiohttp.ClientSession | Callable[[], aiohttp.ClientSession | Awaitable[aiohttp.ClientSession]] | None
)

_PONG_TYPE = PacketType.PONG
_MESSAGE = PacketType.MESSAGE
_UPGRADING = State.UPGRADING
_WS_CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)
_NETWORK_ERRORS = (aiohttp.ClientError, OSError, asyncio.TimeoutError)
#: Seconds the CLOSE sent after a failed polling request may take (it is a courtesy, see
#: :meth:`EngineConnection._say_goodbye`); nobody waits for it, its HTTP session closes after it.
GOODBYE_TIMEOUT = 2.0


class EngineError(Exception):
    """The Engine.IO connection could not be opened.

    ``data`` is what the ``connect_error`` handlers get: the server's JSON error body when it sent
    one (engine.io answers ``{"code": ..., "message": ...}``), otherwise the message.
    """

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = message if data is None else data


class _HTTPStatusError(Exception):
    """A polling request got a non-200 answer."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP status {status}")
        self.status = status
        self.body = body


@dataclass
class EngineOptions:
    """The Engine.IO settings python-socketio's client accepts as keyword arguments."""

    #: Seconds allowed for a handshake, a POST, a WebSocket connection or closing handshake.
    request_timeout: float = 5.0
    #: A shared ``aiohttp.ClientSession`` (never closed here), or a factory called per connection.
    http_session: SessionSource = None
    #: False skips TLS certificate verification (self-signed servers).
    ssl_verify: bool = True
    #: Extra keyword arguments for ``ClientSession.ws_connect`` (they win over the defaults).
    websocket_extra_options: dict[str, Any] = field(default_factory=dict)
    #: Add a ``t=`` cache-busting parameter to every request, as engine.io clients do.
    timestamp_requests: bool = True


class EngineConnection:
    """A single Engine.IO session; see the module docstring for its life cycle.

    Its protocol state (opening, open on polling or WebSocket, upgrading, closing, closed) is the
    sans-IO :class:`~aiosio.protocol.eio_session.EngineIOState` in the client role; this class runs
    the requests, sockets, tasks and the heartbeat watchdog around it.

    ``on_message`` gets every MESSAGE's data (``str`` or ``bytes``) in order, synchronously from the
    reading task; if it raises :class:`ParseError` the session ends with reason ``'parse error'``.
    ``on_close`` is called once with the reason the session ended: ``'transport close'``,
    ``'transport error'``, ``'ping timeout'``, ``'parse error'`` — but never for :meth:`close`.
    """

    def __init__(
        self,
        options: EngineOptions,
        on_message: Callable[[str | bytes], None],
        on_close: Callable[[str], None],
        logger: logging.Logger,
    ) -> None:
        self._options = options
        self._on_message = on_message
        self._on_close: Callable[[str], None] | None = on_close
        self._log = logger
        self._loop = asyncio.get_running_loop()
        self._session: aiohttp.ClientSession | None = None
        self._own_session = False
        self._headers: dict[str, str] = {}
        self._poll_url = ""
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._machine = EngineIOState(Role.CLIENT)
        self._outbox: deque[Frame] = deque()
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        # Set while no polling POST is in flight; the upgrade waits for it before switching.
        self._post_idle = asyncio.Event()
        self._post_idle.set()
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._upgrader: asyncio.Task[None] | None = None
        self._goodbye: asyncio.Task[None] | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._initial: list[Packet] = []
        self._requests = 0
        #: What the server announced in its OPEN packet (set once :meth:`open` returns).
        self.handshake: Handshake | None = None

    # -- public API ---------------------------------------------------------------------------------

    @property
    def transport(self) -> str:
        """``'polling'`` or ``'websocket'``: the transport carrying packets now (``''`` before opening)."""
        return self._machine.transport

    @property
    def close_reason(self) -> str | None:
        """Why the session ended (None while it is open)."""
        return self._machine.close_reason

    @property
    def sid(self) -> str | None:
        """The Engine.IO session id."""
        return self.handshake.sid if self.handshake else None

    @property
    def is_open(self) -> bool:
        """True from a successful :meth:`open` until the session ends."""
        return self.handshake is not None and not self._machine.closed

    async def open(self, url: str, headers: dict[str, str], transports: tuple[str, ...], path: str) -> None:
        """Handshake with the server over ``transports[0]``; raise :class:`EngineError` on failure.

        If polling is first and both sides allow WebSocket, an upgrade is then tried in the
        background while polling already carries packets; a failed upgrade just keeps polling.
        """
        self._headers = dict(headers)
        try:
            await self._make_session()
            if transports[0] == "websocket":
                await self._open_websocket(url, path)
            else:
                await self._open_polling(url, path)
        except BaseException:
            self._machine.close("transport error")
            await self._release()
            raise
        self._arm_watchdog()
        self._writer = self._loop.create_task(self._write_loop())
        if self.transport == "websocket":
            assert self._ws is not None
            self._reader = self._loop.create_task(self._ws_read_loop(self._ws))
        else:
            self._reader = self._loop.create_task(self._poll_read_loop())
            assert self.handshake is not None
            if "websocket" in transports and "websocket" in self.handshake.upgrades:
                self._upgrader = self._loop.create_task(self._upgrade(url, path))

    def send(self, frames: list[Frame]) -> bool:
        """Queue frames to go out together, in order. Returns False (sending nothing) once closed."""
        if self._machine.closed or self.handshake is None:
            return False
        self._outbox.extend(frames)
        self._drained.clear()
        self._wake.set()
        return True

    async def close(self) -> None:
        """Say goodbye (flush the outbox, send CLOSE) and release everything; ``on_close`` is not called."""
        self._on_close = None
        # From here no new polling GET starts (the server may already have ended the session when it
        # arrives, and python-engineio logs that as an error).
        if self._machine.begin_close():
            # The upgrade must not hold polling paused while the outbox is flushed.
            if self._upgrader is not None and not self._upgrader.done():
                self._upgrader.cancel()
                await asyncio.gather(self._upgrader, return_exceptions=True)
            self.send([CLOSE])
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._drained.wait(), self._options.request_timeout)
            self._end("client disconnect")
        elif self._machine.state is State.CLOSING:
            # Another close() is saying goodbye: let it finish flushing before releasing.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._drained.wait(), self._options.request_timeout)
        await self.aclose()

    async def aclose(self) -> None:
        """Release every task, socket and (owned) HTTP session. Safe to call more than once."""
        self._on_close = None
        self._end("client disconnect")
        await self._release()

    # -- opening ------------------------------------------------------------------------------------

    async def _make_session(self) -> None:
        source = self._options.http_session
        if isinstance(source, aiohttp.ClientSession):
            self._session = source
            return
        if source is not None:
            made = source()
            self._session = await made if inspect.isawaitable(made) else made
        else:
            # unsafe=True keeps cookies set by servers addressed by IP (sticky-session load balancers).
            self._session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
            # aiohttp re-sends a GET whose kept-alive connection broke; a polling GET the server
            # already answered is not safe to repeat: that answer's packets would be lost unseen.
            if hasattr(self._session, "_retry_connection"):
                self._session._retry_connection = False
        self._own_session = True

    def _ssl(self) -> bool:
        return self._options.ssl_verify

    def _stamp(self, url: str) -> str:
        if not self._options.timestamp_requests:
            return url
        self._requests += 1
        return f"{url}&t={int(time.time() * 1000):x}.{self._requests}"

    async def _request(self, method: str, url: str, timeout: float, body: bytes | None = None) -> bytes:
        assert self._session is not None
        headers = self._headers
        if body is not None:
            headers = {**headers, "Content-Type": "text/plain;charset=UTF-8"}
        async with self._session.request(
            method,
            self._stamp(url),
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
            ssl=self._ssl(),
        ) as resp:
            data = await resp.read()
            if resp.status != 200:
                raise _HTTPStatusError(resp.status, data)
            return data

    async def _open_polling(self, url: str, path: str) -> None:
        base = engine_url(url, path, "polling")
        self._log.info("Engine.IO polling handshake with %s", base)
        try:
            body = await self._request("GET", base, self._options.request_timeout)
            packets = decode_payload(body)
        except _HTTPStatusError as exc:
            raise EngineError(
                f"Unexpected status code {exc.status} in server response", _error_body(exc.body)
            ) from None
        except ParseError as exc:
            raise EngineError(f"Unexpected response from server: {exc}") from None
        except _NETWORK_ERRORS as exc:
            raise EngineError(f"Connection error: {_describe(exc)}") from None
        if not packets:
            raise EngineError("OPEN packet not returned by server")
        handshake = self._accept_open(packets[0], "polling")
        self._poll_url = engine_url(url, path, "polling", handshake.sid)
        self._initial = packets[1:]

    def _accept_open(self, packet: Packet, transport: str) -> Handshake:
        try:
            handshake = self._machine.open_received(packet, transport)
        except ProtocolError as exc:
            raise EngineError(str(exc)) from None
        self.handshake = handshake
        self._log.info("Engine.IO session %s opened", handshake.sid)
        return handshake

    async def _ws_connect(self, url: str) -> aiohttp.ClientWebSocketResponse:
        assert self._session is not None
        extra = dict(self._options.websocket_extra_options)
        headers = {**self._headers, **extra.pop("headers", {})}
        options: dict[str, Any] = {
            "timeout": aiohttp.ClientWSTimeout(ws_receive=None, ws_close=self._options.request_timeout),
            "ssl": self._ssl(),
        }
        options.update(extra)
        return await asyncio.wait_for(
            self._session.ws_connect(self._stamp(url), headers=headers, **options),
            self._options.request_timeout,
        )

    async def _open_websocket(self, url: str, path: str) -> None:
        target = engine_url(url, path, "websocket")
        self._log.info("Engine.IO WebSocket handshake with %s", target)
        try:
            ws = await self._ws_connect(target)
        except aiohttp.WSServerHandshakeError as exc:
            raise EngineError(f"Unexpected status code {exc.status} in server response") from None
        except _NETWORK_ERRORS as exc:
            raise EngineError(f"Connection error: {_describe(exc)}") from None
        self._ws = ws
        try:
            msg = await asyncio.wait_for(ws.receive(), self._options.request_timeout)
        except _NETWORK_ERRORS as exc:
            raise EngineError(f"Connection error: {_describe(exc)}") from None
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise EngineError("OPEN packet not returned by server")
        try:
            packet = decode_text(msg.data)
        except ParseError:
            raise EngineError("OPEN packet not returned by server") from None
        self._accept_open(packet, "websocket")

    # -- receiving ----------------------------------------------------------------------------------

    def _arm_watchdog(self) -> None:
        # The server pings every pingInterval; allowing pingTimeout more for the ping to arrive is the
        # same rule as engine.io-client's. Nothing heard by then means the path to the server is dead.
        if self._watchdog is not None:
            self._watchdog.cancel()
        assert self.handshake is not None
        delay = self.handshake.ping_interval + self.handshake.ping_timeout
        self._watchdog = self._loop.call_later(delay, self._lost, "ping timeout")

    def _handle(self, packet: Packet) -> None:
        ptype = packet.type
        if ptype == _MESSAGE:
            self._on_message(packet.data)
            return
        action = self._machine.receive(ptype)
        if action is Action.SEND_PONG:
            self._arm_watchdog()
            data = packet.data if isinstance(packet.data, str) else ""
            self.send([Frame.text(_PONG_TYPE, data.encode())])
        elif action is Action.CLOSE:
            self._lost("transport close")
        elif ptype != PacketType.NOOP:
            self._log.debug("Ignoring unexpected Engine.IO packet %s", ptype.name)

    async def _poll_read_loop(self) -> None:
        assert self.handshake is not None
        # A GET is answered at the latest when the server pings, every pingInterval.
        timeout = self.handshake.ping_interval + self.handshake.ping_timeout + self._options.request_timeout
        try:
            machine = self._machine
            packets, self._initial = self._initial, []
            while True:
                for packet in packets:
                    self._handle(packet)
                    if machine.closed:
                        return
                state = machine.state
                if state is State.UPGRADING or state is State.CLOSING:
                    # An upgrade is switching to WebSocket; the server answered this GET (with a NOOP
                    # if nothing else) so that no poll is left hanging. Or CLOSE is on its way.
                    return
                packets = decode_payload(await self._request("GET", self._poll_url, timeout))
        except ParseError as exc:
            self._log.warning("Engine.IO parse error: %s", exc)
            self._lost("parse error")
        except (*_NETWORK_ERRORS, _HTTPStatusError) as exc:
            self._log.info("Polling GET failed: %s", _describe(exc))
            if not _unknown_session(exc):
                self._say_goodbye()
            self._lost("transport error")
        except Exception:
            # A bug past this point must not leave a session that silently stopped reading.
            self._log.exception("Unexpected error while reading")
            self._lost("transport error")

    async def _ws_read_loop(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        machine = self._machine
        try:
            while True:
                msg = await ws.receive()
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self._handle(decode_text(msg.data))
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    self._handle(decode_binary(msg.data))
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    self._log.info("WebSocket error: %s", msg.data)
                    self._lost("transport error")
                elif msg.type in _WS_CLOSED:
                    self._lost("transport close")
                if machine.closed:
                    return
        except ParseError as exc:
            self._log.warning("Engine.IO parse error: %s", exc)
            self._lost("parse error")
        except _NETWORK_ERRORS as exc:
            self._log.info("WebSocket receive failed: %s", _describe(exc))
            self._lost("transport error")
        except Exception:
            self._log.exception("Unexpected error while reading")
            self._lost("transport error")

    # -- sending ------------------------------------------------------------------------------------

    def _next_post(self, budget: int) -> bytes:
        # Build polling forms only for as many frames as can fit; a huge backlog is not re-encoded
        # on every POST.
        parts: list[bytes] = []
        size = -1
        for frame in self._outbox:
            part = frame.polling()
            parts.append(part)
            size += len(part) + 1
            if size > budget:
                break
        payload, taken = join_payload(parts, budget)
        for _ in range(taken):
            self._outbox.popleft()
        return payload

    async def _write_loop(self) -> None:
        assert self.handshake is not None
        machine = self._machine
        try:
            while not machine.closed:
                # While UPGRADING nothing more goes out over polling (and nothing over the WebSocket
                # before UPGRADE): frames wait for the switch.
                if not self._outbox or machine.state is _UPGRADING:
                    if not self._outbox:
                        self._drained.set()
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                if machine.transport == "websocket":
                    assert self._ws is not None
                    frame = self._outbox.popleft()
                    opcode = aiohttp.WSMsgType.BINARY if frame.binary else aiohttp.WSMsgType.TEXT
                    await self._ws.send_frame(frame.payload, opcode)
                else:
                    payload = self._next_post(self.handshake.max_payload)
                    self._post_idle.clear()
                    try:
                        await self._request("POST", self._poll_url, self._options.request_timeout, payload)
                    finally:
                        self._post_idle.set()
        except (*_NETWORK_ERRORS, _HTTPStatusError) as exc:
            self._log.info("Sending failed: %s", _describe(exc))
            if machine.transport == "polling" and not _unknown_session(exc):
                self._say_goodbye()
            self._lost("transport error")

    # -- upgrade ------------------------------------------------------------------------------------

    async def _upgrade(self, url: str, path: str) -> None:
        """Probe a WebSocket while polling goes on, then pause polling and switch.

        The sequence is the session machine's (engine.io's): ``2probe`` out, ``3probe`` back (polling
        pauses: UPGRADING), ``5`` out once no polling request is in flight.
        """
        assert self.handshake is not None
        machine = self._machine
        ws: aiohttp.ClientWebSocketResponse | None = None
        timeout = self._options.request_timeout
        try:
            ws = await self._ws_connect(engine_url(url, path, "websocket", self.handshake.sid))
            probe = machine.start_upgrade()
            assert probe is not None
            await ws.send_str(probe.payload.decode())
            msg = await asyncio.wait_for(ws.receive(), timeout)
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise ProtocolError(f"{msg.type.name} message in answer to the probe")
            upgrade = machine.receive_probe(decode_text(msg.data))
            assert upgrade is not None
            # Polling is paused: no new GET or POST starts; wait for those in flight to complete, so
            # that nothing is left in (or sent through) the polling transport after the switch.
            assert self._reader is not None
            await asyncio.wait_for(asyncio.wait([self._reader]), timeout)
            await asyncio.wait_for(self._post_idle.wait(), timeout)
            if machine.state is not _UPGRADING:
                return  # the session ended meanwhile
            await ws.send_str(upgrade.payload.decode())
            self._ws, ws = ws, None
            machine.upgrade_sent()
            self._reader = self._loop.create_task(self._ws_read_loop(self._ws))
            self._log.info("Upgraded Engine.IO session %s to WebSocket", self.handshake.sid)
        except (ParseError, aiohttp.WSServerHandshakeError, *_NETWORK_ERRORS) as exc:
            self._log.info("WebSocket upgrade failed, staying on polling: %s", _describe(exc))
        finally:
            if machine.upgrading:  # failed or cancelled before the switch: back to polling
                machine.abort_upgrade()
                if self._reader is not None and self._reader.done():
                    self._reader = self._loop.create_task(self._poll_read_loop())
            self._wake.set()
            if ws is not None:
                await _close_ws(ws)

    # -- ending -------------------------------------------------------------------------------------

    def _lost(self, reason: str) -> None:
        """The session ended (not by :meth:`close`): stop everything and tell the owner, once."""
        if self._machine.closed:
            return
        self._end(reason)
        callback, self._on_close = self._on_close, None
        if callback is not None:
            callback(reason)

    def _say_goodbye(self) -> None:
        """After a failed polling request, still POST a CLOSE, once, in the background, as Node's
        client does (its polling transport closes by writing one): the server learns at once that
        the session is over (``transport close``; with recovery on, it keeps the session for the
        client) instead of at its ping timeout. Whether it arrives does not matter."""
        if self._goodbye is not None or self._session is None or not self._poll_url:
            return
        if self._machine.closed or self._machine.transport != "polling":
            return
        self._goodbye = self._loop.create_task(self._post_goodbye(self._poll_url))

    async def _post_goodbye(self, url: str) -> None:
        with contextlib.suppress(*_NETWORK_ERRORS, _HTTPStatusError):
            await self._request(
                "POST", url, min(self._options.request_timeout, GOODBYE_TIMEOUT), CLOSE.polling()
            )

    def _end(self, reason: str) -> None:
        if not self._machine.close(reason):
            return
        self._log.info("Engine.IO session %s ended: %s", self.sid, reason)
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        current = asyncio.current_task()
        for task in (self._reader, self._writer, self._upgrader):
            if task is not None and task is not current:
                task.cancel()
        self._outbox.clear()
        self._drained.set()

    async def _release(self) -> None:
        current = asyncio.current_task()
        tasks = [t for t in (self._reader, self._writer, self._upgrader) if t not in (None, current)]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        ws, self._ws = self._ws, None
        if ws is not None:
            await _close_ws(ws)
        goodbye, self._goodbye = self._goodbye, None
        session, self._session = self._session, None
        owned = session if self._own_session else None
        if goodbye is not None and goodbye is not current and not goodbye.done():
            # It needs the HTTP session: it keeps it (and closes it when done, bounded by its own
            # timeout); the caller (the disconnect handlers, a reconnection) does not wait for it.
            finish = self._loop.create_task(_after_goodbye(goodbye, owned))
            _PARTING.add(finish)
            finish.add_done_callback(_PARTING.discard)
            return
        if owned is not None:
            await owned.close()


#: The goodbyes still on their way after their connection was released (a strong reference each).
_PARTING: set[asyncio.Task[None]] = set()


async def _after_goodbye(goodbye: asyncio.Task[None], session: aiohttp.ClientSession | None) -> None:
    """Let a goodbye finish (bounded), then close the HTTP session it used (if owned)."""
    try:
        await asyncio.wait({goodbye}, timeout=GOODBYE_TIMEOUT + 0.5)
    finally:
        goodbye.cancel()
        if session is not None:
            await session.close()


def _unknown_session(exc: BaseException) -> bool:
    """The server answered 400: it does not know the session (a CLOSE for it would be refused too)."""
    return isinstance(exc, _HTTPStatusError) and exc.status == 400


async def _close_ws(ws: aiohttp.ClientWebSocketResponse) -> None:
    # A dead peer must not hold the caller: aiohttp bounds the closing handshake by ws_close, and
    # any error only means the socket is already gone.
    with contextlib.suppress(Exception):
        await ws.close()


def _error_body(body: bytes) -> Any:
    """The JSON an engine.io server sends with an error status, or None."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

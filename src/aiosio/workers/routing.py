"""The hand-off between workers: a request for a session another worker owns goes to that worker.

Every worker of ``aiosio run --workers N`` makes session ids that start with its tag (``w3.``, see
:func:`worker_tag`) and also serves the same application on a private Unix socket,
``<runtime dir>/w3.sock``. A long-polling GET or POST that names another worker's sid is replayed
there with aiohttp's client (method, path and query, headers, body; then status, headers and body
back, byte for byte: compressed bodies stay compressed); a WebSocket upgrade is answered by opening a
WebSocket to the owner over its socket and piping frames both ways (text, binary, and the close
code). The client sees what a single process would have answered, with no extra round trip.

A sid whose tag names no live worker (its socket is gone: the worker died or was replaced) is
answered by the worker that received it: the usual 400 "Session ID unknown".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import WSMsgType, web

from .handover import send_connection

if TYPE_CHECKING:
    from ..engine.session import EngineSession
    from ..transport.server import AiohttpEngineTransport

__all__ = ["HandOff", "parse_tag", "worker_tag"]

logger = logging.getLogger("aiosio.workers")

#: A worker's tag in a sid: ``w`` + its id + ``.`` (not a base64url character, so the random part
#: that follows can never be mistaken for more of the tag).
_TAG = re.compile(r"w([0-9]{1,9})\.")

#: How long a polling request for a session being upgraded waits for the upgrade to finish.
UPGRADE_GRACE = 0.05

#: Headers that belong to one hop (RFC 9110 §7.6.1) or that aiohttp writes itself.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
_RESPONSE_SKIP = _HOP_BY_HOP | {"content-length", "date", "server"}
_WEBSOCKET_SKIP = _HOP_BY_HOP | {
    "content-length",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "sec-websocket-accept",
    "sec-websocket-protocol",
}
#: Headers aiohttp's client would otherwise add on its own: the owner must see the client's.
_NO_AUTO_HEADERS = ("Accept-Encoding", "User-Agent", "Content-Type")


def worker_tag(worker_id: int) -> str:
    """The sid prefix of worker ``worker_id``: ``w3.``."""
    return f"w{worker_id}."


def parse_tag(sid: str) -> int | None:
    """The id of the worker that made ``sid``, or None if it carries no (valid) tag."""
    match = _TAG.match(sid)
    return int(match.group(1)) if match else None


class HandOff:
    """This worker's side of the hand-off: installed as :data:`aiosio.transport.server.hand_off`.

    ``runtime_dir`` holds every worker's socket (``w{id}.sock``); ``own_id`` is this worker's id.
    One client session (with a keep-alive connection pool) per owner worker.
    """

    def __init__(self, runtime_dir: str | Path, own_id: int) -> None:
        self.runtime_dir = Path(runtime_dir)
        self.own_id = own_id
        self._sessions: dict[int, aiohttp.ClientSession] = {}
        #: Requests whose connection was handed to the owner, and requests relayed to it.
        self.moved = 0
        self.relayed = 0

    def socket_path(self, worker_id: int) -> Path:
        """Where worker ``worker_id`` serves the application privately."""
        return self.runtime_dir / f"w{worker_id}.sock"

    def _session(self, worker_id: int) -> aiohttp.ClientSession:
        session = self._sessions.get(worker_id)
        if session is None or session.closed:
            connector = aiohttp.UnixConnector(path=str(self.socket_path(worker_id)), limit=0)
            session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
                skip_auto_headers=_NO_AUTO_HEADERS,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            self._sessions[worker_id] = session
        return session

    async def _forget(self, worker_id: int) -> None:
        session = self._sessions.pop(worker_id, None)
        if session is not None:
            await session.close()

    async def close(self) -> None:
        """Close every connection pool."""
        for worker_id in list(self._sessions):
            await self._forget(worker_id)

    async def settle(self, session: EngineSession) -> None:
        """Wait (at most :data:`UPGRADE_GRACE`) for an upgrade in progress to finish.

        A polling request during an upgrade is answered by the state the upgrade leaves; a WebSocket
        handed over through another worker makes the upgrade's last frame (``5``) come one hop
        later than in a single process, so a request sent after it could otherwise overtake it.
        """
        deadline = asyncio.get_running_loop().time() + UPGRADE_GRACE
        while session.upgrading and not session.closed and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.002)

    async def __call__(
        self, request: web.Request, sid: str, transport: AiohttpEngineTransport
    ) -> web.StreamResponse | None:
        """Answer ``request`` through the worker that owns ``sid``; None if it is this one or none."""
        owner = parse_tag(sid)
        if owner is None or owner == self.own_id or not self.socket_path(owner).exists():
            return None
        if await send_connection(request, self.runtime_dir / f"w{owner}.fd"):
            self.moved += 1
            return web.Response(status=204)  # never written: this worker no longer has the connection
        self.relayed += 1
        try:
            if request.headers.get("Upgrade", "").lower() == "websocket":
                return await self._websocket(request, owner, transport)
            return await self._http(request, owner)
        except (aiohttp.ClientConnectionError, OSError) as exc:
            # The owner went away (it died, or is being replaced): its sessions are gone with it.
            logger.debug("hand-off of %s to worker %d failed: %s", sid, owner, exc)
            await self._forget(owner)
            return None

    async def _http(self, request: web.Request, owner: int) -> web.StreamResponse:
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
        data: Any = request.content if request.body_exists else None
        async with self._session(owner).request(
            request.method,
            "http://worker" + request.path_qs,
            headers=headers,
            data=data,
            allow_redirects=False,
        ) as upstream:
            body = await upstream.read()
            out = web.Response(status=upstream.status, reason=upstream.reason, body=body)
            for name, value in upstream.headers.items():
                if name.lower() not in _RESPONSE_SKIP:
                    out.headers.add(name, value)
            return out

    async def _websocket(
        self, request: web.Request, owner: int, transport: AiohttpEngineTransport
    ) -> web.StreamResponse | None:
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _WEBSOCKET_SKIP]
        try:
            upstream = await self._session(owner).ws_connect(
                "http://worker" + request.path_qs,
                headers=headers,
                autoping=True,
                max_msg_size=0,
                timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
            )
        except aiohttp.WSServerHandshakeError as exc:
            # Refused by the owner (the session ended meanwhile, or cannot upgrade): answered here,
            # which for a sid this worker does not have is the 400 of an unknown session.
            logger.debug("the owner refused the upgrade: %s", exc.status)
            return None
        limit = transport.core.options.max_http_buffer_size + 1
        ws = web.WebSocketResponse(max_msg_size=limit, compress=False, autoping=True, heartbeat=None)
        try:
            await ws.prepare(request)
        except ConnectionError:
            await upstream.close()
            return web.Response(status=400)  # the client is gone; never written
        await _pipe(ws, upstream)
        return ws


async def _pipe(client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    """Copy frames both ways until either side closes; the close code crosses over."""

    async def down() -> None:
        async for msg in upstream:
            if msg.type is WSMsgType.TEXT:
                await client.send_str(msg.data)
            elif msg.type is WSMsgType.BINARY:
                await client.send_bytes(msg.data)
            else:
                break

    async def up() -> None:
        async for msg in client:
            if msg.type is WSMsgType.TEXT:
                await upstream.send_str(msg.data)
            elif msg.type is WSMsgType.BINARY:
                await upstream.send_bytes(msg.data)
            else:
                break

    tasks = [asyncio.ensure_future(down()), asyncio.ensure_future(up())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
                await task
        with contextlib.suppress(ConnectionError, RuntimeError):
            if not upstream.closed:
                await upstream.close(code=client.close_code or 1000)
        with contextlib.suppress(ConnectionError, RuntimeError):
            if not client.closed:
                await client.close(code=upstream.close_code or 1000)

"""The hand-off between workers: a request for a session another worker owns goes to that worker.

Every worker of ``aiosio run --workers N`` makes session ids that start with its tag (``w3.``, see
:func:`worker_tag`). A request (long-polling GET or POST, WebSocket upgrade) that names another
worker's sid moves, connection and all, to that worker (:mod:`~aiosio.workers.handover`), which
answers it and keeps the connection. Only a request that cannot be replayed byte for byte there (a
chunked POST, whose body aiohttp already decoded) is relayed instead: each worker also serves the
app on a private Unix socket, ``<runtime dir>/w3.sock``, and the request is sent there with aiohttp's
client (method, path and query, headers, body; then status, headers and body back, as they are:
compressed bodies stay compressed). The client sees what a single process would have answered,
with no extra round trip.

A sid whose tag names no live worker (its socket is gone: the worker died or was replaced) is
answered by the worker that received it: the usual 400 "Session ID unknown".
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from aiohttp.web_log import AccessLogger

from .handover import HandOverLinks

if TYPE_CHECKING:
    from ..transport.server import AiohttpEngineTransport

__all__ = ["MOVED_HEADER", "HandOff", "Moved", "MovedFilter", "parse_tag", "worker_tag"]

logger = logging.getLogger("aiosio.workers")

#: A worker's tag in a sid: ``w`` + its id + ``.`` (not a base64url character, so the random part
#: that follows can never be mistaken for more of the tag).
_TAG = re.compile(r"w([0-9]{1,9})\.")

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
#: Headers aiohttp's client would otherwise add on its own: the owner must see the client's.
_NO_AUTO_HEADERS = ("Accept-Encoding", "User-Agent", "Content-Type")


#: Marks the placeholder answer of a request whose connection moved to its owner.
MOVED_HEADER = "X-Aiosio-Handed-Over"


class Moved(web.Response):
    """The placeholder answer of a request whose connection moved: never written (this worker no
    longer has the connection; aiohttp takes the error ``prepare`` raises for a hung-up client),
    nor logged (:class:`MovedFilter`)."""

    def __init__(self) -> None:
        super().__init__(status=204, headers={MOVED_HEADER: "1"})

    async def prepare(self, request: web.BaseRequest) -> Any:
        """Refuse to write anything."""
        raise ConnectionResetError("the connection was handed to the worker that owns the session")


class MovedFilter(AccessLogger):
    """aiohttp's access log, without the placeholder lines of requests handed to another worker
    (the owner logs those, with their real answers)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        """Log unless ``response`` is a hand-off placeholder."""
        if MOVED_HEADER not in response.headers:
            super().log(request, response, time)


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
        #: The links to the other workers' hand-over sockets.
        self.links = HandOverLinks()
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
        """Close every connection pool and hand-over link."""
        self.links.close()
        for worker_id in list(self._sessions):
            await self._forget(worker_id)

    async def __call__(
        self, request: web.Request, sid: str, transport: AiohttpEngineTransport
    ) -> web.StreamResponse | None:
        """Answer ``request`` through the worker that owns ``sid``; None if it is this one or none."""
        owner = parse_tag(sid)
        if owner is None or owner == self.own_id or not self.socket_path(owner).exists():
            return None
        outcome = await self.links.send(request, self.runtime_dir / f"w{owner}.fd")
        if outcome == "moved":
            self.moved += 1
            return Moved()
        if outcome in ("unreachable", "spoilt") or request.headers.get("Upgrade", "").lower() == "websocket":
            return None  # the owner is gone (or going): its sessions are unknown now
        self.relayed += 1
        try:
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

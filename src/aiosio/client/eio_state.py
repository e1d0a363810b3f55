"""Sans-IO pieces of the Engine.IO v4 client: endpoint URLs and the choice of transports.

No asyncio, no aiohttp, no clock. The OPEN handshake and the rest of the session's states are the
shared machine's (:mod:`aiosio.protocol.eio_session`, :mod:`aiosio.protocol.handshake`).
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

# The OPEN packet's data is read by the session state machine in aiosio.protocol; these names stay
# importable from here.
from aiosio.protocol.handshake import DEFAULT_MAX_PAYLOAD, Handshake, parse_open

__all__ = [
    "DEFAULT_MAX_PAYLOAD",
    "TRANSPORTS",
    "Handshake",
    "engine_url",
    "normalize_transports",
    "parse_open",
]

#: The transports an Engine.IO v4 client can use, in the order they are tried by default.
TRANSPORTS = ("polling", "websocket")


def normalize_transports(transports: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """The transports to use, in order; unknown names are ignored, and none left is an error.

    As in python-socketio, ``None`` means polling first and then an upgrade to WebSocket.
    """
    if transports is None:
        return TRANSPORTS
    if isinstance(transports, str):
        transports = [transports]
    chosen = tuple(dict.fromkeys(t for t in transports if t in TRANSPORTS))
    if not chosen:
        raise ValueError(f"no valid transport in {transports!r}; use 'polling' and/or 'websocket'")
    return chosen


def engine_url(url: str, path: str, transport: str, sid: str | None = None) -> str:
    """The Engine.IO endpoint for ``transport`` on the server named by ``url``.

    Like python-socketio, the URL's own path is ignored (``path`` — ``socketio_path`` — names the
    endpoint) and its query string is kept, so servers can read custom parameters. ``http``/``ws``
    schemes are swapped to suit the transport; ``https``/``wss`` stay secure.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss"):
        raise ValueError(f"unsupported URL scheme in {url!r}; use http(s):// or ws(s)://")
    if not parts.netloc:
        raise ValueError(f"no host in URL {url!r}")
    secure = parts.scheme in ("https", "wss")
    scheme = ("ws" if transport == "websocket" else "http") + ("s" if secure else "")
    query = parts.query + "&" if parts.query else ""
    query += f"EIO=4&transport={transport}"
    if sid is not None:
        query += "&sid=" + quote(sid, safe="")
    return f"{scheme}://{parts.netloc}/{path.strip('/')}/?{query}"

"""Sans-IO pieces of the Engine.IO v4 client: endpoint URLs and the OPEN handshake.

No asyncio, no aiohttp, no clock: the transport code in :mod:`aiosio.client.engine` feeds strings in and
gets values or :class:`~aiosio.protocol.errors.ParseError` out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from aiosio.protocol.errors import ParseError
from aiosio.protocol.jsoncodec import DEFAULT_JSON

#: The transports an Engine.IO v4 client can use, in the order they are tried by default.
TRANSPORTS = ("polling", "websocket")

#: ``maxPayload`` assumed when a server does not announce one (engine.io's default).
DEFAULT_MAX_PAYLOAD = 1_000_000


@dataclass(frozen=True, slots=True)
class Handshake:
    """What the server's OPEN packet announced. Times are in seconds."""

    sid: str
    upgrades: tuple[str, ...]
    ping_interval: float
    ping_timeout: float
    max_payload: int


def _positive_int(obj: dict[str, Any], key: str, default: int | None = None) -> int:
    value = obj.get(key, default)
    # bool is an int subclass; a server sending true is as broken as one sending a string.
    if type(value) is not int or value <= 0:
        raise ParseError(f"invalid {key} in OPEN packet: {value!r:.40}")
    return value


def parse_open(data: str | bytes) -> Handshake:
    """Parse the JSON data of an OPEN packet; raise :class:`ParseError` if anything is missing or wrong."""
    if isinstance(data, bytes):
        raise ParseError("binary OPEN packet")
    obj = DEFAULT_JSON.loads(data)
    if not isinstance(obj, dict):
        raise ParseError("OPEN packet data is not an object")
    sid = obj.get("sid")
    if not isinstance(sid, str) or not sid:
        raise ParseError("OPEN packet without a session id")
    upgrades = obj.get("upgrades", [])
    if not isinstance(upgrades, list) or not all(isinstance(u, str) for u in upgrades):
        raise ParseError("invalid upgrades in OPEN packet")
    return Handshake(
        sid=sid,
        upgrades=tuple(upgrades),
        ping_interval=_positive_int(obj, "pingInterval") / 1000.0,
        ping_timeout=_positive_int(obj, "pingTimeout") / 1000.0,
        max_payload=_positive_int(obj, "maxPayload", DEFAULT_MAX_PAYLOAD),
    )


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

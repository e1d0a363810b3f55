"""The data of an Engine.IO v4 OPEN packet, as a client reads it (sans-IO)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ParseError
from .jsoncodec import DEFAULT_JSON

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

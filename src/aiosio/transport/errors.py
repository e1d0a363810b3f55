"""Engine.IO's HTTP error answers: the codes and messages the reference server sends, as JSON."""

from __future__ import annotations

import orjson
from aiohttp import web

from .cors import OriginPolicy

UNKNOWN_TRANSPORT = (0, "Transport unknown")
UNKNOWN_SID = (1, "Session ID unknown")
BAD_HANDSHAKE_METHOD = (2, "Bad handshake method")
BAD_REQUEST = (3, "Bad request")
FORBIDDEN = (4, "Forbidden")
UNSUPPORTED_PROTOCOL_VERSION = (5, "Unsupported protocol version")


def error_response(
    origins: OriginPolicy, request: web.Request, code: tuple[int, str], status: int = 400
) -> web.Response:
    """An Engine.IO error as JSON, with the CORS headers when the request's origin is allowed."""
    return web.Response(
        status=status,
        body=orjson.dumps({"code": code[0], "message": code[1]}),
        content_type="application/json",
        headers=origins.headers(request) if origins.allowed(request) else None,
    )

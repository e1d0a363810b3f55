"""The WSGI-style ``environ`` dict python-socketio handlers read, built from an aiohttp request."""

from __future__ import annotations

from typing import Any

from aiohttp import web


def build_environ(request: web.Request) -> dict[str, Any]:
    """Return the keys python-socketio apps use: REMOTE_ADDR (the real peer), HTTP_*, the query..."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    remote = peer[0] if isinstance(peer, tuple) and peer else (request.remote or "")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "PATH_INFO": request.path,
        "QUERY_STRING": request.query_string,
        "RAW_URI": request.raw_path,
        "SERVER_PROTOCOL": f"HTTP/{request.version.major}.{request.version.minor}",
        "REMOTE_ADDR": remote,
        "REMOTE_PORT": str(peer[1]) if isinstance(peer, tuple) and len(peer) > 1 else "",
        "SERVER_NAME": request.host.split(":")[0],
        "SERVER_PORT": (request.url.port and str(request.url.port)) or "",
        "wsgi.url_scheme": request.scheme,
        "CONTENT_TYPE": request.headers.get("Content-Type", ""),
        "CONTENT_LENGTH": request.headers.get("Content-Length", ""),
        "aiohttp.request": request,
    }
    for name, value in request.headers.items():
        key = "HTTP_" + name.upper().replace("-", "_")
        if key in environ:
            environ[key] += "," + value
        else:
            environ[key] = value
    return environ

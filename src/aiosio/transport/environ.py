"""The WSGI-style ``environ`` dict python-socketio handlers read, built from an aiohttp request.

A connection keeps its environ once built (``get_environ`` returns the same dict), so it is built
with as few new objects as it can: the ``HTTP_*`` keys of the usual header names are shared
between connections, and the port is read without making (and caching on the request) its
absolute URL. The values are exactly those of the request.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from yarl import URL

#: ``HTTP_*`` environ keys by header name as received, shared by every connection's environ. Header
#: names are the client's choice: only names up to ``_NAME_MAX`` characters are remembered (real
#: header names are short; a client's junk names of up to aiohttp's 8190 cannot pin much), and past
#: ``_KEYS_MAX`` of them new ones are made per environ and not remembered.
_KEYS_MAX = 512
_NAME_MAX = 64
_keys: dict[str, str] = {}

_PROTOCOLS = {(1, 1): "HTTP/1.1", (1, 0): "HTTP/1.0"}


def _key(name: str) -> str:
    key = _keys.get(name)
    if key is None:
        key = "HTTP_" + name.upper().replace("-", "_")
        if len(name) <= _NAME_MAX and len(_keys) < _KEYS_MAX:
            _keys[name] = key
    return key


def _server_port(request: web.Request) -> int | None:
    """``request.url.port``, without building and caching ``request.url`` for an origin-form target
    (the usual ``/path?query``): that URL's authority is the scheme's and the Host's alone. None
    (SERVER_PORT empty) when the Host's port is not a port (``h:abc``, ``h:65536``): the client's
    mistake, not a reason to fail the connection's handlers."""
    try:
        if request.raw_path.startswith("/"):
            return URL.build(scheme=request.scheme, authority=request.host).port
        return request.url.port
    except ValueError:
        return None


def _server_name(host: str) -> str:
    """``request.host``'s name part, as written: ``::1`` for ``[::1]:8443`` (the way
    ``request.url.host`` and REMOTE_ADDR write an IPv6 address) and for the bare ``::1`` aiohttp
    gives for an absolute-form IPv6 target, else everything before the first colon."""
    if host.startswith("[") and "]" in host:
        return host[1 : host.index("]")]
    if host.count(":") > 1:
        return host
    return host.split(":", 1)[0]


def build_environ(request: web.Request) -> dict[str, Any]:
    """Return the keys python-socketio apps use: REMOTE_ADDR (the real peer), HTTP_*, the query..."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    remote = peer[0] if isinstance(peer, tuple) and peer else (request.remote or "")
    version = request.version
    port = _server_port(request)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "PATH_INFO": request.path,
        "QUERY_STRING": request.query_string,
        "RAW_URI": request.raw_path,
        "SERVER_PROTOCOL": _PROTOCOLS.get((version.major, version.minor))
        or f"HTTP/{version.major}.{version.minor}",
        "REMOTE_ADDR": remote,
        "REMOTE_PORT": str(peer[1]) if isinstance(peer, tuple) and len(peer) > 1 else "",
        "SERVER_NAME": _server_name(request.host),
        "SERVER_PORT": (port and str(port)) or "",
        "wsgi.url_scheme": request.scheme,
        "CONTENT_TYPE": request.headers.get("Content-Type", ""),
        "CONTENT_LENGTH": request.headers.get("Content-Length", ""),
        "aiohttp.request": request,
    }
    for name, value in request.headers.items():
        key = _key(name)
        if key in environ:
            environ[key] += "," + value
        else:
            environ[key] = value
    return environ

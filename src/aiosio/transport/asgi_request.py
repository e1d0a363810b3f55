"""An ASGI connection scope as the Engine.IO transport reads it, and the environ built from it."""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import parse_qsl

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

Scope = dict[str, Any]


class AsgiRequest:
    """One ASGI ``http`` or ``websocket`` scope: method, headers, query, scheme and host.

    The session keeps it as its :attr:`~aiosio.engine.session.EngineSession.request`; the environ
    python-socketio handlers read is built from it on first use (:meth:`environ`).
    """

    __slots__ = ("_headers", "_query", "scope")

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self._headers: CIMultiDictProxy[str] | None = None
        self._query: MultiDictProxy[str] | None = None

    @property
    def method(self) -> str:
        """The HTTP method (``GET`` for a WebSocket)."""
        return str(self.scope.get("method", "GET"))

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        """The request headers, case-insensitive, decoded as UTF-8 as python-socketio and aiohttp do
        (``'José'`` stays ``'José'``); bytes that are not UTF-8 are kept as surrogates."""
        headers = self._headers
        if headers is None:
            raw = CIMultiDict[str]()
            for name, value in self.scope.get("headers", ()):
                raw.add(name.decode("latin-1"), value.decode("utf-8", "surrogateescape"))
            headers = self._headers = CIMultiDictProxy(raw)
        return headers

    @property
    def query_string(self) -> str:
        """The raw query string (decoded as UTF-8; bytes that are not UTF-8 kept as surrogates)."""
        raw = self.scope.get("query_string", b"")
        return raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else str(raw)

    @property
    def query(self) -> MultiDictProxy[str]:
        """The query parameters."""
        query = self._query
        if query is None:
            query = self._query = MultiDictProxy(
                MultiDict(parse_qsl(self.query_string, keep_blank_values=True))
            )
        return query

    @property
    def scheme(self) -> str:
        """``http`` or ``https`` (``ws``/``wss`` scopes are reported as their HTTP scheme)."""
        scheme = str(self.scope.get("scheme", "http"))
        return {"ws": "http", "wss": "https"}.get(scheme, scheme)

    @property
    def host(self) -> str:
        """The ``Host`` header, or the server address of the scope."""
        host = self.headers.get("Host")
        if host:
            return host
        server = self.scope.get("server")
        if server:
            name, port = server[0], server[1]
            return name if port is None else f"{name}:{port}"
        return ""

    @property
    def path(self) -> str:
        """The request path (what the ASGI server decoded)."""
        return str(self.scope.get("path", "/"))

    @property
    def is_websocket(self) -> bool:
        """True for a ``websocket`` scope."""
        return self.scope.get("type") == "websocket"

    def environ(self) -> dict[str, Any]:
        """The WSGI-style environ python-socketio builds for ASGI, with the real peer address."""
        scope = self.scope
        query = self.query_string
        raw_path = scope.get("raw_path")
        uri = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else self.path
        if query:
            uri += "?" + query
        client = scope.get("client") or ("", 0)
        server = scope.get("server") or ("", None)
        environ: dict[str, Any] = {
            "wsgi.errors": sys.stderr,
            "wsgi.version": (1, 0),
            "wsgi.async": True,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "SERVER_SOFTWARE": "asgi",
            "REQUEST_METHOD": self.method,
            "PATH_INFO": self.path,
            "QUERY_STRING": query,
            "RAW_URI": uri,
            "SCRIPT_NAME": str(scope.get("root_path", "")),
            "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
            "REMOTE_ADDR": str(client[0]),
            "REMOTE_PORT": str(client[1]),
            "SERVER_NAME": str(server[0]),
            "SERVER_PORT": "" if server[1] is None else str(server[1]),
            "wsgi.url_scheme": self.scheme,
            "asgi.scope": scope,
        }
        for name, value in self.headers.items():
            upper = name.upper()
            if upper == "CONTENT-TYPE":
                environ["CONTENT_TYPE"] = value
                continue
            if upper == "CONTENT-LENGTH":
                environ["CONTENT_LENGTH"] = value
                continue
            key = "HTTP_" + upper.replace("-", "_")
            environ[key] = environ[key] + "," + value if key in environ else value
        return environ

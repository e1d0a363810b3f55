"""The connection request a test client presents: a WSGI-style environ, as a transport builds one.

Handlers read ``sio.get_environ(sid)`` (and Node-style ``handshake`` data is derived from it), so the
environ of an in-process connection carries the same keys as one built from a real aiohttp request:
REMOTE_ADDR, the query string with Engine.IO's own parameters, and every header as ``HTTP_*``.
"""

from __future__ import annotations

import base64
import itertools
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

#: The ``Host`` header (and SERVER_NAME) of a test connection unless its headers name another.
TEST_HOST = "localhost"

#: Set in every environ a test client makes: an app can tell a test connection from a real one.
TESTING_KEY = "aiosio.testing"

#: Client ports as the server would see them, one per connection (ephemeral range).
_ports = itertools.count(50000)

Query = Mapping[str, Any] | str | None


def query_string(query: Query, transport: str) -> str:
    """The query string a Socket.IO client sends: the app's parameters, then ``EIO`` and ``transport``."""
    if query is None:
        own = ""
    elif isinstance(query, str):
        own = query.lstrip("?")
    else:
        # A list or tuple value is the parameter repeated (``tag=a&tag=b``), as a browser sends it.
        own = urlencode(
            {key: list(map(str, v)) if isinstance(v, list | tuple) else str(v) for key, v in query.items()},
            doseq=True,
        )
    engine = f"EIO=4&transport={transport}"
    return f"{own}&{engine}" if own else engine


def make_environ(
    *,
    path: str = "socket.io",
    transport: str = "websocket",
    headers: Mapping[str, str] | None = None,
    query: Query = None,
    remote_addr: str = "127.0.0.1",
) -> dict[str, Any]:
    """The environ of a GET that opens a connection on ``transport`` at ``/<path>/``.

    ``headers`` are the client's extra headers (a ``Host`` of :data:`TEST_HOST` is added unless
    given; a WebSocket request also carries the handshake's ``Upgrade``/``Connection``/``Sec-WebSocket-*``
    headers). ``query`` is a mapping or a query string of the app's own parameters.
    """
    sent: dict[str, str] = {"Host": TEST_HOST}
    if transport == "websocket":
        sent.update(
            {
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": base64.b64encode(secrets.token_bytes(16)).decode(),
            }
        )
    lowered = {name.lower(): name for name in sent}
    for name, value in (headers or {}).items():
        sent.pop(lowered.get(name.lower(), name), None)
        sent[name] = str(value)
    qs = query_string(query, transport)
    route = "/" + path.strip("/") + "/"
    host = next((value for name, value in sent.items() if name.lower() == "host"), TEST_HOST)
    server_name, _, server_port = host.partition(":")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": route,
        "QUERY_STRING": qs,
        "RAW_URI": f"{route}?{qs}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": remote_addr,
        "REMOTE_PORT": str(next(_ports)),
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port or "80",
        "wsgi.url_scheme": "http",
        "CONTENT_TYPE": sent.get("Content-Type", ""),
        "CONTENT_LENGTH": "",
        TESTING_KEY: True,
    }
    for name, value in sent.items():
        key = "HTTP_" + name.upper().replace("-", "_")
        environ[key] = environ[key] + "," + value if key in environ else value
    return environ

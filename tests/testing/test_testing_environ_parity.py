"""The environ a test client presents has the shape of one aiohttp builds for a real client.

The same server gets a real aiosio.AsyncClient over a port (the ``serve`` fixture) and a test client,
with the same headers and query, on each transport; the keys and values that do not depend on the
network (ports, the Host, the client's own default headers, the cache-busting ``t``) must agree.
"""

from __future__ import annotations

from typing import Any

import pytest

import aiosio
from aiosio.testing import TESTING_KEY, TestServer

#: Headers aiohttp's client sends on its own (a test client sends only the app's and the handshake's).
CLIENT_DEFAULTS = {"HTTP_ACCEPT", "HTTP_ACCEPT_ENCODING", "HTTP_USER_AGENT"}
#: What depends on the network: the port the server listens on and the client's.
NETWORK = {"HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "REMOTE_PORT", "HTTP_SEC_WEBSOCKET_KEY"}


def without_cache_buster(query: str) -> str:
    return "&".join(part for part in query.split("&") if not part.startswith("t="))


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_same_environ_as_a_real_connection(serve: Any, transport: str) -> None:
    sio = aiosio.AsyncServer()
    environs: list[dict[str, Any]] = []
    sio.on("connect", lambda sid, environ: environs.append(dict(environ)))
    handle = await serve(sio)
    real_client = aiosio.AsyncClient(reconnection=False)
    await real_client.connect(
        f"{handle.url}?room=lobby&n=3", headers={"X-Api-Key": "k"}, transports=[transport]
    )
    await real_client.disconnect()
    async with TestServer(sio) as server:
        await server.connect(headers={"X-Api-Key": "k"}, query={"room": "lobby", "n": 3}, transport=transport)
    real, test = environs
    assert real.pop("aiohttp.request") is not None
    assert test.pop(TESTING_KEY) is True
    assert set(test) == set(real) - CLIENT_DEFAULTS
    for key in set(test) - NETWORK:
        if key in ("QUERY_STRING", "RAW_URI"):
            assert test[key] == without_cache_buster(real[key]), key
        else:
            assert test[key] == real[key], key

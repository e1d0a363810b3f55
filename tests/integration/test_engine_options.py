"""Engine.IO options that shape HTTP responses: the session cookie and long-polling compression."""

from __future__ import annotations

import gzip
from typing import Any

import aiohttp
import orjson

import aiosio


async def _handshake(http: aiohttp.ClientSession, endpoint: str) -> tuple[aiohttp.ClientResponse, str]:
    response = await http.get(endpoint + "?EIO=4&transport=polling")
    body = await response.text()
    return response, orjson.loads(body[1:])["sid"]


async def test_cookie_carries_the_sid_with_safe_attributes(serve: Any) -> None:
    handle = await serve(aiosio.AsyncServer(cookie="io"))
    async with aiohttp.ClientSession() as http:
        response, sid = await _handshake(http, handle.endpoint)
        header = response.headers["Set-Cookie"]
    assert header.startswith(f"io={sid};")
    assert "HttpOnly" in header
    assert "Path=/" in header
    assert "SameSite=Lax" in header


async def test_no_cookie_by_default(serve: Any) -> None:
    handle = await serve(aiosio.AsyncServer())
    async with aiohttp.ClientSession() as http:
        response, _sid = await _handshake(http, handle.endpoint)
        assert "Set-Cookie" not in response.headers


async def _poll_raw(serve: Any, **options: Any) -> tuple[dict[str, str], bytes]:
    """Queue a 4 KiB message for a polling client and fetch it without letting aiohttp decompress."""
    eio = aiosio.engineio.AsyncServer(**options)

    @eio.on("message")
    async def message(sid: str, data: Any) -> None:
        await eio.send(sid, "x" * 4096)

    handle = await serve(eio, engineio_path="engine.io")
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        _response, sid = await _handshake(http, handle.endpoint)
        url = f"{handle.endpoint}?EIO=4&transport=polling&sid={sid}"
        async with http.post(url, data="4go") as posted:
            assert await posted.read() == b"ok"
        async with http.get(url, headers={"Accept-Encoding": "gzip"}) as polled:
            return dict(polled.headers), await polled.read()


async def test_polling_payloads_over_the_threshold_are_gzipped(serve: Any) -> None:
    headers, body = await _poll_raw(serve)
    assert headers.get("Content-Encoding") == "gzip"
    assert gzip.decompress(body) == b"4" + b"x" * 4096


async def test_compression_can_be_turned_off(serve: Any) -> None:
    headers, body = await _poll_raw(serve, http_compression=False)
    assert "Content-Encoding" not in headers
    assert body == b"4" + b"x" * 4096


async def test_small_payloads_are_not_compressed(serve: Any) -> None:
    headers, _body = await _poll_raw(serve, compression_threshold=100_000)
    assert "Content-Encoding" not in headers

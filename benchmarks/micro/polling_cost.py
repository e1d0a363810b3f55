"""aiosio's own CPU cost of one long-polling echo (a POST with an event in, a GET with its ack out).

In-process: the benchmark server's options (``benchmarks/servers/sio_server.py``) and its ``echo``
handler; each echo is a POST ``42<id>["echo","hello"]`` and the GET, already waiting, that carries
the ack, both given straight to the Engine.IO transport's ``handle`` as aiohttp ``web.Request``
objects built beforehand (the body fed to a real ``StreamReader``). aiohttp's HTTP parsing, routing
and response writing are not in the number, only what aiosio does with a parsed request up to the
response object it returns: the share a leaner polling path can shrink (``server_cpu.py polling``
gives the whole server's cost over real sockets). CPU time (``process_time``), best of 15 rounds.

    python benchmarks/micro/polling_cost.py [RUNS]    # RUNS > 1: medians of RUNS processes
    PYTHONPATH=/other/tree/src python benchmarks/micro/polling_cost.py   # another version
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import subprocess
import sys
import time
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http import HttpVersion11
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import StreamReader
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

import aiosio

OPTIONS: dict[str, Any] = {
    "cors_allowed_origins": "*",
    "cors_credentials": False,
    "ping_interval": 300,
    "ping_timeout": 300,
    "max_http_buffer_size": 100_000_000,
    "http_compression": False,
}
ECHOES = int(__import__("os").environ.get("ECHOES", "2000"))  # per round
HEADERS = {"Host": "127.0.0.1:8000", "Accept": "*/*", "Connection": "keep-alive"}


class _Transport:
    """An open transport: the GET's check that the client is still there passes."""

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class _Protocol:
    """What a request reads of aiohttp's connection handler (and its body reader of the protocol)."""

    transport = _Transport()
    _reading_paused = False
    ssl_context = None
    peername = ("127.0.0.1", 40000)
    sockname = ("127.0.0.1", 8000)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self, resume_parser: bool = True) -> None:
        pass


_PROTOCOL: Any = _Protocol()


def _request(method: str, url: str, body: bytes | None = None) -> web.Request:
    """A parsed request as aiohttp's server hands it to a handler (no mocks: they are slow)."""
    headers = dict(HEADERS)
    loop = asyncio.get_running_loop()
    payload = StreamReader(_PROTOCOL, 2**16, loop=loop)
    if body is not None:
        headers["Content-Length"] = str(len(body))
        headers["Content-Type"] = "text/plain;charset=UTF-8"
        payload.feed_data(body)
    payload.feed_eof()
    proxy = CIMultiDictProxy(CIMultiDict(headers))
    raw = tuple((k.encode(), v.encode()) for k, v in headers.items())
    message = RawRequestMessage(method, url, HttpVersion11, proxy, raw, False, None, False, False, URL(url))
    return web.Request(message, payload, _PROTOCOL, None, None, loop)  # type: ignore[arg-type]


async def _echo(handle: Any, post: web.Request, get: web.Request) -> None:
    """One echo as the benchmark's clients (and browsers) make it: the GET is already waiting when
    the POST comes. The GET's coroutine is driven by hand, so no task is added to aiosio's work."""
    waiting = handle(get)
    parked = waiting.send(None)  # the GET waits for the session's next packet
    await handle(post)
    while not parked.done():  # the handler task runs and sends the ack
        await asyncio.sleep(0)
    try:
        waiting.send(None)
    except StopIteration as stop:
        assert stop.value.body.startswith(b"43"), stop.value.body
    else:
        raise AssertionError("the GET did not end with the ack")


async def measure() -> float:
    """µs of CPU per polling echo, best of 15 rounds."""
    sio = aiosio.AsyncServer(**OPTIONS)

    @sio.event
    async def echo(sid: str, data: Any) -> Any:
        return data

    app = web.Application()
    sio.attach(app)
    handle = sio.eio._transport.handle
    base = "/socket.io/?EIO=4&transport=polling"
    response = await handle(_request("GET", base))
    sid = orjson.loads(response.body[1:])["sid"]
    url = f"{base}&sid={sid}"
    await handle(_request("POST", url, b"40"))
    assert (await handle(_request("GET", url))).body.startswith(b"40{")
    best = float("inf")
    for _ in range(15):
        requests = [
            (_request("POST", url, f'42{i}["echo","hello"]'.encode()), _request("GET", url))
            for i in range(ECHOES)
        ]
        gc.collect()
        gc.disable()
        start = time.process_time()
        for post, get in requests:
            await _echo(handle, post, get)
        best = min(best, (time.process_time() - start) / ECHOES)
        gc.enable()
    return best * 1e6


def main() -> None:
    """Print the cost; with a run count, the median of that many fresh processes."""
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    if runs > 1:
        results = [
            float(
                subprocess.run(
                    [sys.executable, __file__], check=True, capture_output=True, text=True
                ).stdout.split()[1]
            )
            for _ in range(runs)
        ]
        print(
            f"polling echo {statistics.median(results):.2f} µs of aiosio CPU (median of {runs}: "
            + " ".join(f"{r:.2f}" for r in results)
            + ")"
        )
    else:
        print(f"polling_echo {asyncio.run(measure()):.2f} µs")


if __name__ == "__main__":
    main()

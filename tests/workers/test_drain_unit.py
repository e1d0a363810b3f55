"""Unit tests of the --workers hand-over and drain pieces, in one process (real sockets, no mocks)."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from aiosio.workers.drain import Leaving
from aiosio.workers.handover import HandOverLinks, HandOverServer
from aiosio.workers.routing import HandOff, Moved

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def runtime_dir():
    with tempfile.TemporaryDirectory(prefix="aiosio-wf-") as path:
        yield Path(path)


async def _site(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, runner.addresses[0][1]


async def test_huge_headers_are_not_moved_but_served(runtime_dir: Path) -> None:
    """A request whose headers exceed one hand-over message is not moved (the owner would drop it
    and the client would get no answer): it is answered by the worker that read it."""
    owner_app = web.Application()
    owner_app.router.add_get("/x", lambda r: web.Response(text="owner"))
    owner = web.AppRunner(owner_app)
    await owner.setup()
    assert owner.server is not None
    handover = HandOverServer(runtime_dir / "w1.fd", owner.server)
    await handover.start()
    links = HandOverLinks()
    outcomes: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        outcome = await links.send(request, runtime_dir / "w1.fd")
        outcomes.append(outcome)
        return Moved() if outcome == "moved" else web.Response(text="here")

    app = web.Application()
    app.router.add_get("/x", handler)
    runner, port = await _site(app)
    try:
        headers = {f"X-H{i}": "v" * 8000 for i in range(10)}  # 80 KB, each header within limits
        async with aiohttp.ClientSession() as client:
            async with client.get(f"http://127.0.0.1:{port}/x", headers=headers) as resp:
                assert (resp.status, await resp.text()) == (200, "here")
            async with client.get(f"http://127.0.0.1:{port}/x") as resp:  # a small one moves
                assert (resp.status, await resp.text()) == (200, "owner")
        assert outcomes == ["cannot", "moved"]
    finally:
        links.close()
        await handover.close()
        await runner.cleanup()
        await owner.cleanup()


async def test_spoilt_request_is_refused_not_served_without_its_body(runtime_dir: Path) -> None:
    """A retiring worker whose successor is gone after it took a POST's body out of aiohttp
    answers 503 (Connection: close), not the handler with an empty body."""
    path = runtime_dir / "w1.fd"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(str(path))
    listener.listen(8)
    leaving = Leaving(runtime_dir, 0, "w0.", HandOff(runtime_dir, 0))
    leaving.hand_off.links._link(str(path))  # a link made earlier (cached) ...
    peer, _ = listener.accept()
    peer.close()  # ... that its worker dropped since (it died)
    listener.close()
    got: list[int] = []

    async def api(request: web.Request) -> web.StreamResponse:
        got.append(len(await request.read()))
        return web.Response(text="served")

    app = web.Application(middlewares=[leaving.middleware])
    app.router.add_post("/api", api)
    runner, port = await _site(app)
    leaving.begin("retiring")
    try:
        url = f"http://127.0.0.1:{port}/api"
        async with aiohttp.ClientSession() as client, client.post(url, data=b'{"title": "milk"}') as resp:
            assert resp.status == 503
            assert resp.headers.get("Connection", "").lower() == "close"
        assert got == []  # the handler never saw a request without its body
    finally:
        await leaving.hand_off.close()
        await runner.cleanup()

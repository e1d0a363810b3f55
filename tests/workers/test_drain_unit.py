"""Unit tests of the --workers hand-over and drain pieces, in one process (real sockets, no mocks)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import tempfile
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from aiosio.workers.drain import Leaving
from aiosio.workers.handover import HandOverLinks, HandOverServer
from aiosio.workers.idle import WatchedRunner, is_idle
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


async def _watched(name: str) -> tuple[WatchedRunner, int]:
    async def hello(request: web.Request) -> web.StreamResponse:
        await request.read()
        return web.Response(text=f"hi from {name}")

    app = web.Application()
    app.router.add_route("*", "/", hello)
    runner = WatchedRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, runner.addresses[0][1]


def _idle_now(runner: WatchedRunner) -> list[bool]:
    assert runner.server is not None
    return [is_idle(runner, proto) for proto in runner.server.connections]


async def test_is_idle_tells_a_waiting_connection_from_one_mid_request() -> None:
    """Fresh: idle. Part of the headers read: not idle (the bytes are inside aiohttp's parser).
    Answered and kept alive: idle again; a POST whose body comes in pieces: idle after it only.
    (With an aiohttp whose privates changed, the first assertion fails loudly.)"""
    runner, port = await _watched("A")
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.sleep(0.05)
        assert _idle_now(runner) == [True]
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Partial: ab")
        await asyncio.sleep(0.05)
        assert _idle_now(runner) == [False]
        writer.write(b"cd\r\n\r\n")
        assert b"hi from A" in await asyncio.wait_for(reader.readuntil(b"hi from A"), 3)
        await asyncio.sleep(0.05)
        assert _idle_now(runner) == [True]
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345")
        await asyncio.sleep(0.05)
        assert _idle_now(runner) == [False]
        writer.write(b"67890")
        assert b"hi from A" in await asyncio.wait_for(reader.readuntil(b"hi from A"), 3)
        await asyncio.sleep(0.05)
        assert _idle_now(runner) == [True]
        writer.close()
    finally:
        await runner.cleanup()


async def test_move_idle_keeps_a_connection_with_part_of_a_request(runtime_dir: Path) -> None:
    """A draining worker moves a connection that sent nothing yet, and keeps (and answers) one
    whose client has sent part of its headers: moved, those bytes would be lost (a 400)."""
    a, port = await _watched("A")
    b, _ = await _watched("B")
    handover = HandOverServer(runtime_dir / "w1.fd", b.server)
    await handover.start()
    leaving = Leaving(runtime_dir, 0, "w0.", HandOff(runtime_dir, 0))
    try:
        for first, rest, moves, by in (
            (b"", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1, b"B"),
            (b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: ab", b"cd\r\n\r\n", 0, b"A"),
        ):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            if first:
                writer.write(first)
            await asyncio.sleep(0.1)
            assert await leaving.move_idle(a) == moves
            await asyncio.sleep(0.05)
            writer.write(rest)
            answer = await asyncio.wait_for(reader.read(300), 3)
            assert answer.startswith(b"HTTP/1.1 200") and b"hi from " + by in answer
            writer.close()
    finally:
        await leaving.hand_off.close()
        await handover.close()
        await a.cleanup()
        await b.cleanup()


async def test_move_idle_stops_at_its_deadline_and_at_a_stuck_successor(runtime_dir: Path) -> None:
    """A successor that takes nothing (its queue full) costs the drain at most its deadline, not
    5 s per idle connection; the connections stay here and are still answered."""
    import time

    a, port = await _watched("A")
    path = runtime_dir / "w1.fd"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(str(path))
    listener.listen(8)  # never accepts, never reads
    leaving = Leaving(runtime_dir, 0, "w0.", HandOff(runtime_dir, 0))
    link = leaving.hand_off.links._link(str(path))
    assert link is not None
    with contextlib.suppress(BlockingIOError):
        while True:
            link.send(b"x" * 1024)
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
    try:
        await asyncio.sleep(0.1)
        started = time.monotonic()
        assert await leaving.move_idle(a, time.monotonic() + 0.5) == 0
        assert time.monotonic() - started < 1.5
        for reader, writer in conns:
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b"hi from A" in await asyncio.wait_for(reader.readuntil(b"hi from A"), 3)
            writer.close()
    finally:
        listener.close()
        await leaving.hand_off.close()
        await a.cleanup()


async def test_a_hand_over_racing_close_is_taken_or_refused(runtime_dir: Path) -> None:
    """A peer that sends on its cached link after the last message was taken (the worker is
    closing) gets an error (and serves the request itself): the connection is not lost."""
    owner_app = web.Application()
    owner = web.AppRunner(owner_app)
    await owner.setup()
    assert owner.server is not None
    outcome: dict[str, bool] = {}
    peer = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    client, other = socket.socketpair()

    class Racy(HandOverServer):
        closing = False

        async def close(self) -> None:
            self.closing = True
            await super().close()

        async def _take_one(self, link: socket.socket) -> bool:
            try:
                got = await super()._take_one(link)
            except OSError:
                got = None
            if not got and self.closing and "sent" not in outcome:
                # The last queued message was taken: the peer sends now.
                try:
                    socket.send_fds(peer, [b""], [client.fileno()])
                    outcome["sent"] = True
                except OSError:
                    outcome["sent"] = False
            if got is None:
                raise ConnectionAbortedError("the link is shut")
            return got

    handover = Racy(runtime_dir / "w1.fd", owner.server)
    await handover.start()
    peer.connect(str(runtime_dir / "w1.fd"))
    peer.setblocking(False)
    await asyncio.sleep(0.05)  # the link is accepted
    try:
        await handover.close()
        assert "sent" in outcome
        assert not outcome["sent"] or handover.taken == 1
    finally:
        peer.close()
        client.close()
        other.close()
        await owner.cleanup()

"""The admin package's pieces without a peer: serving the UI's files, the aggregated-events buffer,
what a socket record may carry."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from aiosio.admin import serve_ui
from aiosio.admin.events import MAX_ENTRIES, EventBuffer
from aiosio.admin.serialize import iso_date, plain_data, public_handshake
from aiosio.admin.ui import find_ui


async def test_serve_ui_serves_the_npm_copy(tmp_path: Path) -> None:
    """Without ``directory`` the repository's node_modules copy is served: ``/admin-ui`` redirects
    to ``/admin-ui/``, which is the UI's index.html, and its scripts are there."""
    if find_ui() is None:
        pytest.skip("npm @socket.io/admin-ui is not installed (npm ci)")
    app = web.Application()
    root = serve_ui(app)
    script = next((root / "js").glob("app.*.js")).name
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/admin-ui", allow_redirects=False) as resp:
                assert resp.status == 302 and resp.headers["Location"] == "/admin-ui/"
            async with http.get(f"{base}/admin-ui/") as resp:
                assert resp.status == 200
                assert "<title>Socket.IO Admin UI</title>" in await resp.text()
            async with http.get(f"{base}/admin-ui/js/{script}") as resp:
                assert resp.status == 200
    finally:
        await runner.cleanup()


def test_serve_ui_without_the_ui_says_what_to_install(tmp_path: Path) -> None:
    """A folder without the UI: FileNotFoundError naming the npm package and the hosted UI."""
    with pytest.raises(FileNotFoundError, match=r"npm install @socket.io/admin-ui.*admin\.socket\.io"):
        serve_ui(web.Application(), directory=tmp_path)
    with pytest.raises(ValueError, match="path"):
        serve_ui(web.Application(), path="admin-ui")


def test_event_buffer_counts_per_second_and_is_bounded() -> None:
    """Counts add up per (second, type, sub-type); take() empties; distinct sub-types are bounded."""
    buffer = EventBuffer()
    buffer.push("rawConnection")
    buffer.push("rawConnection")
    buffer.push("bytesIn", None, 120)
    buffer.push("bytesIn", None, 0)  # nothing to count
    buffer.push("rawDisconnection", "ping timeout")
    entries = buffer.take()
    counts = {(e["type"], e.get("subType")): e["count"] for e in entries}
    assert counts == {
        ("rawConnection", None): 2,
        ("bytesIn", None): 120,
        ("rawDisconnection", "ping timeout"): 1,
    }
    assert all(e["timestamp"] % 1000 == 0 for e in entries)
    assert "subType" not in next(e for e in entries if e["type"] == "rawConnection")
    assert buffer.take() == []
    for i in range(3 * MAX_ENTRIES):
        buffer.push("rawDisconnection", f"reason {i}")
    entries = buffer.take()
    assert len(entries) <= MAX_ENTRIES + 2  # a second boundary may split them
    assert sum(e["count"] for e in entries) == 3 * MAX_ENTRIES


def test_socket_records_never_carry_secrets_or_unsendable_data() -> None:
    """The handshake loses ``auth``; ``address`` follows proxy headers; ``data`` is the user session
    only when it is a JSON object, without Node admin-ui's ``_admin``; dates are Date.toJSON()'s."""
    shown = public_handshake(
        {"auth": {"token": "t"}, "address": "10.0.0.1", "headers": {"x-forwarded-for": "203.0.113.9"}}
    )
    assert shown == {"address": "203.0.113.9", "headers": {"x-forwarded-for": "203.0.113.9"}}
    assert plain_data({"user": "ann", "_admin": {"clientId": "x"}}) == {"user": "ann"}
    assert plain_data({"conn": object()}) == {}
    assert plain_data(None) == {} and plain_data(["a"]) == {}
    import datetime as dt

    assert iso_date(dt.datetime(2026, 12, 1, 16, 20, 0, 123456, tzinfo=dt.UTC)) == "2026-12-01T16:20:00.123Z"


def test_default_server_ids_tell_the_servers_of_a_cluster_apart() -> None:
    """One server: the host name (Node's default). A server of a cluster (a cluster adapter, or a
    worker's sid prefix): ``host#pid``, as Node's admin-ui names a cluster worker."""
    import os
    import socket

    import aiosio
    from aiosio.admin.stats import default_server_id

    host = socket.gethostname()
    assert default_server_id(aiosio.AsyncServer()) == host
    clustered = aiosio.AsyncServer(client_manager=aiosio.AsyncRedisManager("redis://127.0.0.1:1"))
    assert default_server_id(clustered) == f"{host}#{os.getpid()}"
    assert default_server_id(aiosio.AsyncServer(sid_prefix="w1-")) == f"{host}#{os.getpid()}"
    assert aiosio.AsyncServer().instrument(auth=False, server_id="edge-1").server_id == "edge-1"


async def test_admin_events_wait_in_a_bounded_queue(caplog: pytest.LogCaptureFixture) -> None:
    """More admin events than the queue holds, put before it could send any: the oldest are dropped
    and counted, one warning is logged, and the newest still go out."""
    import asyncio
    import logging

    import aiosio
    from aiosio.admin.outbox import Outbox

    sio = aiosio.AsyncServer(logger=True)
    outbox = Outbox(sio, "/admin", limit=3)
    with caplog.at_level(logging.WARNING, logger="aiosio.server"):
        for i in range(10):
            outbox.put("event_received", ("/", "sid", ["e", i], "t"))
    assert outbox.dropped == 7
    assert [args[2][1] for _, args in outbox._queue] == [7, 8, 9]
    assert sum("dropping the oldest" in r.getMessage() for r in caplog.records) == 1
    await asyncio.sleep(0.05)
    assert not outbox._queue  # sent (to no admin)
    await outbox.close()
    outbox.put("event_received", ("/", "sid", ["late"], "t"))
    assert not outbox._queue  # closed: dropped


def test_admin_session_ids_are_bounded() -> None:
    """At most MAX_SESSIONS session ids are kept: the oldest is forgotten first."""
    from aiosio.admin.auth import MAX_SESSIONS, AdminAuth

    auth = AdminAuth({"username": "a", "password": "b"})
    first = auth.new_session()
    assert auth.has_session({"sessionId": first})
    for _ in range(MAX_SESSIONS):
        auth.new_session()
    assert not auth.has_session({"sessionId": first})
    assert not auth.has_session({"sessionId": 12}) and not auth.has_session("not a dict")

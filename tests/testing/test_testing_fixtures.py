"""The pytest plugin's fixtures, used as an app's tests use them: nothing but the fixtures.

The plugin is loaded through its ``pytest11`` entry point (the editable install registers it), as
it is in any project that installs aiosio; nothing here imports it. What teardown did is checked by
``after_teardown``, requested first so that it is torn down last, after the plugin's fixtures:
each test checks its own teardown, alone or in any order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import aiosio

Check = Callable[[], None]


class App(aiosio.AsyncServer):
    """An app's server, counting its shutdowns."""

    shutdowns = 0

    async def shutdown(self) -> None:
        self.shutdowns += 1
        await super().shutdown()


def make_app() -> App:
    sio = App()
    left: list[str] = []
    sio.left = left  # type: ignore[attr-defined]

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        await sio.save_session(sid, {"user": (auth or {}).get("user", "anon")})

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        left.append(reason)

    @sio.event
    async def whoami(sid: str) -> str:
        return str((await sio.get_session(sid))["user"])

    @sio.event
    async def broadcast(sid: str, text: str) -> None:
        await sio.emit("announcement", text)

    return sio


@pytest.fixture
def after_teardown() -> Iterator[list[Check]]:
    """Checks to run once the other fixtures of the test are torn down."""
    checks: list[Check] = []
    yield checks
    assert checks, "the test registered no check"
    for check in checks:
        check()


async def test_client_fixture_with_a_bare_server(
    after_teardown: list[Check], aiosio_test_client: Any
) -> None:
    sio = make_app()
    alice = await aiosio_test_client(sio, auth={"user": "alice"})
    bob = await aiosio_test_client(sio, transport="polling")
    assert await alice.call("whoami") == "alice"
    assert await bob.call("whoami") == "anon"
    await bob.emit("broadcast", "hi all")
    assert (await alice.receive("announcement")).data == "hi all"

    def check() -> None:
        assert not alice.connected and not bob.connected
        assert alice.disconnect_reason == bob.disconnect_reason == "client disconnect"
        assert sio.left == ["client disconnect"] * 2  # the server's handlers ran
        assert sio.shutdowns == 0 and sio.eio.sockets == {}  # only the clients are the fixture's

    after_teardown.append(check)


async def served_client(server_factory: Any, client_factory: Any) -> tuple[App, Any]:
    sio = make_app()
    server = await server_factory(sio)
    client = await client_factory(server, "/", {"user": "carol"}, {"X-Trace": "1"})  # positional
    assert await client.call("whoami") == "carol"
    assert sio.get_environ(client.sid)["HTTP_X_TRACE"] == "1"
    return sio, client


def left_before_the_server_stopped(sio: App, client: Any) -> Check:
    def check() -> None:
        assert not client.connected
        # The client fixture is torn down first, whatever the order the test names them in: its
        # clients leave themselves (not "server shutting down"), then the server shuts down.
        assert client.disconnect_reason == "client disconnect"
        assert sio.left == ["client disconnect"]
        assert sio.eio.sockets == {} and sio.shutdowns == 1

    return check


async def test_server_fixture_named_first(
    after_teardown: list[Check], aiosio_test_server: Any, aiosio_test_client: Any
) -> None:
    sio, client = await served_client(aiosio_test_server, aiosio_test_client)
    after_teardown.append(left_before_the_server_stopped(sio, client))


async def test_client_fixture_named_first(
    after_teardown: list[Check], aiosio_test_client: Any, aiosio_test_server: Any
) -> None:
    sio, client = await served_client(aiosio_test_server, aiosio_test_client)
    after_teardown.append(left_before_the_server_stopped(sio, client))

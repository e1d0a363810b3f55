"""The pytest plugin's fixtures, used as an app's tests use them: nothing but the fixtures.

The plugin is loaded through its ``pytest11`` entry point (the editable install registers it), as
it is in any project that installs aiosio; nothing here imports it.
"""

from __future__ import annotations

from typing import Any

import aiosio

#: What the first tests left behind, looked at by the last one (tests of a module run in order).
LEFT: dict[str, Any] = {}


class App(aiosio.AsyncServer):
    """An app's server, counting its shutdowns."""

    shutdowns = 0

    async def shutdown(self) -> None:
        self.shutdowns += 1
        await super().shutdown()


def make_app() -> App:
    sio = App()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        await sio.save_session(sid, {"user": (auth or {}).get("user", "anon")})

    @sio.event
    async def whoami(sid: str) -> str:
        return str((await sio.get_session(sid))["user"])

    @sio.event
    async def broadcast(sid: str, text: str) -> None:
        await sio.emit("announcement", text)

    return sio


async def test_client_fixture_with_a_bare_server(aiosio_test_client: Any) -> None:
    sio = make_app()
    alice = await aiosio_test_client(sio, auth={"user": "alice"})
    bob = await aiosio_test_client(sio, transport="polling")
    assert await alice.call("whoami") == "alice"
    assert await bob.call("whoami") == "anon"
    await bob.emit("broadcast", "hi all")
    assert (await alice.receive("announcement")).data == "hi all"
    LEFT["bare"] = (sio, alice, bob)


async def test_server_and_client_fixtures(aiosio_test_server: Any, aiosio_test_client: Any) -> None:
    sio = make_app()
    server = await aiosio_test_server(sio)
    client = await aiosio_test_client(server, auth={"user": "carol"}, headers={"X-Trace": "1"})
    assert await client.call("whoami") == "carol"
    assert sio.get_environ(client.sid)["HTTP_X_TRACE"] == "1"
    LEFT["served"] = (sio, client)


async def test_teardown_disconnected_the_clients_and_stopped_the_servers() -> None:
    bare, alice, bob = LEFT["bare"]
    assert not alice.connected and not bob.connected
    assert alice.disconnect_reason == bob.disconnect_reason == "client disconnect"
    assert bare.shutdowns == 0 and bare.eio.sockets == {}  # only the clients are the fixture's
    sio, client = LEFT["served"]
    assert not client.connected
    # The client fixture is torn down first (it was requested last): its clients leave themselves.
    assert client.disconnect_reason == "client disconnect"
    assert sio.eio.sockets == {}
    # Then the server fixture shut the server down.
    assert sio.shutdowns == 1

"""The worked example of docs/testing.md ("Testing your app without a port"), verbatim: the demo's
chat, tested with nothing but the plugin's fixtures. If this file changes, change the docs."""

from pathlib import Path

from aiosio.demo.app import SIO_KEY, create_app


async def test_chat_message_reaches_the_room(aiosio_test_server, aiosio_test_client, tmp_path: Path) -> None:
    app = create_app(tmp_path / "todos.sqlite3")  # the demo app, not served on any port
    server = await aiosio_test_server(app[SIO_KEY], app=app)  # runs the app's startup
    alice = await aiosio_test_client(server)
    bob = await aiosio_test_client(server)
    carol = await aiosio_test_client(server)

    ack = await alice.call("join", {"name": "alice", "room": "general"})
    assert ack["ok"] and ack["history"] == []
    await bob.call("join", {"name": "bob", "room": "general"})
    await carol.call("join", {"name": "carol", "room": "random"})

    assert (await alice.call("message", {"text": "hello bob"}))["ok"]
    message = await bob.receive("message", timeout=2)
    assert message.data["text"] == "hello bob" and message.data["room"] == "general"
    assert [r for r in carol.received if r.event == "message"] == []  # another room

    presence = await alice.receive("presence")  # what the server sent on alice's own join
    assert [u["name"] for u in presence.data["users"]] == ["alice"]

    await bob.disconnect()  # returns once the server's disconnect handler ran
    users = [u["name"] for u in (await alice.receive("presence")).data["users"]]
    assert users == ["alice", "bob"]  # bob's join, still unread
    users = [u["name"] for u in (await alice.receive("presence")).data["users"]]
    assert users == ["alice"]  # bob left


# The first example of the section, verbatim.

import aiosio  # noqa: E402
from aiosio.testing import TestServer  # noqa: E402


async def test_greeting():
    sio = aiosio.AsyncServer()

    @sio.event
    async def hello(sid, name):
        await sio.emit("greeting", f"hello {name}", to=sid)
        return "ok"

    async with TestServer(sio) as server:  # the adapter's init, then sio.shutdown() at the end
        client = await server.connect(auth={"token": "t"}, headers={"X-Trace": "1"}, query={"v": 2})
        assert await client.call("hello", "ada") == "ok"
        assert (await client.receive("greeting", timeout=1)).data == "hello ada"


def test_the_docs_show_this_code() -> None:
    """Every Python block of the docs section is in this file (blank lines and noqa aside)."""
    import re

    def normal(text: str) -> str:
        text = text.replace("  # noqa: E402", "")
        return "\n".join(line for line in text.splitlines() if line.strip())

    docs = (Path(__file__).resolve().parents[2] / "docs" / "testing.md").read_text()
    section = docs[docs.index("## Testing your app without a port") :]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2
    here = normal(Path(__file__).read_text())
    for block in blocks:
        assert normal(block) in here

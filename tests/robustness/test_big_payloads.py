"""Long-polling POSTs of many packets are handled whole, and the optional count limit is never silent.

The npm socket.io-client batches everything an app emitted while a POST was in flight into the next
POST, up to ``maxPayload`` bytes: 12,000 small events make a POST of about 12,000 packets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Any

import orjson
import pytest

import aiosio.transport.polling as transport_polling

from .conftest import STEP, MakeServer

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Emits COUNT events ``n(i)`` on long-polling as fast as it can, then an acked ``done``.
NODE_EMITTER = """
const { io } = require("socket.io-client");
const [url, count] = [process.argv[1], Number(process.argv[2])];
const socket = io(url, { transports: ["polling"], reconnection: false });
socket.on("connect", () => {
  for (let i = 0; i < count; i++) socket.emit("n", i);
  socket.timeout(20000).emit("done", (err, total) => {
    console.log(JSON.stringify(err ? { error: String(err) } : { total }));
    socket.disconnect();
    process.exit(0);
  });
});
socket.on("disconnect", (reason) => console.log(JSON.stringify({ disconnect: reason })));
socket.on("connect_error", (err) => {
  console.log(JSON.stringify({ error: err.message }));
  process.exit(1);
});
setTimeout(() => { console.log(JSON.stringify({ error: "watchdog" })); process.exit(2); }, 30000);
"""


async def run_node(script: str, *args: str, timeout: float = 40.0) -> list[dict[str, Any]]:
    """Run ``node -e script args`` from the repository root; return its JSON output lines."""
    proc = await asyncio.create_subprocess_exec(
        "node",
        "-e",
        script,
        *args,
        cwd=str(REPO_ROOT),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGKILL)
            await proc.wait()
    assert proc.returncode == 0, (out, err)
    return [orjson.loads(line) for line in out.decode().splitlines() if line.startswith("{")]


@pytest.fixture
def payload_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The packet count of every polling POST the server decodes (a spy on the real decoder)."""
    sizes: list[int] = []
    real = transport_polling.decode_payload

    def spy(body: bytes, max_packets: int | None = None) -> Any:
        packets = real(body, max_packets)
        sizes.append(len(packets))
        return packets

    monkeypatch.setattr(transport_polling, "decode_payload", spy)
    return sizes


@pytest.mark.interop
@pytest.mark.timeout(60)
async def test_npm_client_emitting_12000_events_on_polling_loses_none(
    make_server: MakeServer, payload_sizes: list[int]
) -> None:
    h = await make_server()
    received: list[int] = []
    h.sio.on("n", lambda sid, i: received.append(i))
    h.sio.on("done", lambda sid: len(received))
    lines = await run_node(NODE_EMITTER, h.origin, "12000")
    assert lines[0] == {"total": 12_000}, lines
    assert received == list(range(12_000))
    assert max(payload_sizes) > 10_000, payload_sizes  # the old limit: this POST used to close the session
    assert not [r for s, r in h.disconnects if r != "client disconnect"], h.disconnects


async def test_a_post_of_20000_packets_within_the_byte_cap_is_handled_whole(
    make_server: MakeServer,
) -> None:
    h = await make_server()
    received: list[int] = []
    h.sio.on("n", lambda sid, i: received.append(i))
    client = await h.polling()
    body = "\x1e".join(f'42["n",{i}]' for i in range(20_000))
    assert await client.post(body) == (200, "ok")
    await h.until(lambda: len(received) == 20_000)
    assert received == list(range(20_000))
    assert not h.disconnects


async def test_the_packet_count_limit_closes_with_a_reason_and_a_log_line(
    make_server: MakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    h = await make_server(max_payload_packets=100)
    received: list[int] = []
    h.sio.on("n", lambda sid, i: received.append(i))
    client = await h.polling()
    assert await client.post("\x1e".join(f'42["n",{i}]' for i in range(100))) == (200, "ok")
    await h.until(lambda: len(received) == 100)
    status, _ = await client.post("\x1e".join(f'42["n",{i}]' for i in range(101)))
    assert status == 400
    await h.until(lambda: bool(h.disconnects), timeout=STEP)
    assert h.reasons(client.sid) == ["parse error"]
    assert len(received) == 100  # none of the refused POST's packets reached a handler
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("101 > max_payload_packets=100" in w for w in warnings), warnings
    await client.assert_dead()


async def test_the_default_packet_count_limit_is_far_above_what_clients_batch(
    make_server: MakeServer,
) -> None:
    """By default a POST may carry 100,000 packets (8x what the npm client batches), not more: a 1 MB
    body of two-byte packets would otherwise build 500,000 objects at once."""
    h = await make_server()
    assert h.sio.eio.core.options.max_payload_packets == 100_000
    received: list[int] = []
    h.sio.on("n", lambda sid: received.append(1))
    client = await h.polling()
    status, _ = await client.post("\x1e".join(['42["n"]'] * 100_001))
    assert status == 400
    await h.until(lambda: bool(h.disconnects), timeout=STEP)
    assert h.reasons(client.sid) == ["parse error"]
    assert received == []


def test_max_payload_packets_must_be_positive() -> None:
    import aiosio

    with pytest.raises(ValueError, match="max_payload_packets"):
        aiosio.AsyncServer(max_payload_packets=0)

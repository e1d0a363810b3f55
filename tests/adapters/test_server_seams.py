"""What the server keeps for the adapter's sake stays bounded."""

from __future__ import annotations

import aiosio
from aiosio.server import emitting


async def test_one_room_selectors_are_reused_and_bounded() -> None:
    """emit(to=room) reuses one immutable selector per room name, and never keeps more than the
    bound however many room names are used."""
    sio = aiosio.AsyncServer()
    emitting._ROOM_SELECTORS.clear()
    await sio.emit("x", to="r")
    first = emitting._ROOM_SELECTORS["r"]
    await sio.emit("x", to="r")
    assert emitting._ROOM_SELECTORS["r"] is first
    for i in range(emitting._ROOM_SELECTORS_MAX + 10):
        await sio.emit("x", to=f"room-{i}")
    assert len(emitting._ROOM_SELECTORS) <= emitting._ROOM_SELECTORS_MAX

"""The ack aggregator on its own (``aiosio.adapters.acks.gather``), over a scripted two-server
adapter: it must wait for every server's count, not only this one's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from aiosio import exceptions
from aiosio.adapters import EventPacket, Selector
from aiosio.adapters.acks import gather
from aiosio.adapters.base import AckRequest

pytestmark = pytest.mark.timeout(10)


class TwoServers:
    """This server has one recipient that answers at once; the other server reports, later,
    ``remote`` recipients, each answering ``later`` seconds after."""

    def __init__(self, remote: int, later: float) -> None:
        self.remote = remote
        self.later = later
        self.forgotten = False

    async def broadcast_with_ack(
        self, packet: Any, selector: Any, on_count: Callable[[int], None], on_ack: Callable[[Any], None]
    ) -> AckRequest:
        loop = asyncio.get_running_loop()
        on_count(1)
        on_ack(["here"])

        def remote_count() -> None:
            on_count(self.remote)
            for i in range(self.remote):
                loop.call_later(self.later, on_ack, [f"there{i}"])

        loop.call_later(0.1, remote_count)

        def forget() -> None:
            self.forgotten = True

        return AckRequest(forget, 2)

    async def server_count(self, namespace: str = "/") -> int:
        return 2


def packet() -> EventPacket:
    return EventPacket("/", "ask", (), lambda *a: [])


async def test_waits_for_every_server_count() -> None:
    assert await gather(TwoServers(2, 0.05), packet(), Selector(timeout=5)) == ["here", "there0", "there1"]  # type: ignore[arg-type]


async def test_a_server_with_no_recipient_still_counts() -> None:
    adapter = TwoServers(0, 0)
    assert await gather(adapter, packet(), Selector(timeout=5)) == ["here"]  # type: ignore[arg-type]
    assert adapter.forgotten


async def test_timeout_reports_what_arrived_from_every_server() -> None:
    with pytest.raises(exceptions.AcksMissingError) as info:
        await gather(TwoServers(2, 5), packet(), Selector(timeout=0.4))  # type: ignore[arg-type]
    assert info.value.responses == ["here"] and info.value.expected == 3

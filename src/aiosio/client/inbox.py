"""Events of one namespace that must wait: before its CONNECT reply, and while its connect handler runs.

python-socketio's server runs the connect handler before it sends the CONNECT reply, so whatever that
handler emits (a greeting, a history replay) reaches the client first. socket.io-client keeps such
events in a receive buffer; aiosio's client does the same, and also keeps the events that arrive while
an ``async`` connect handler is still running, so every handler of a connection sees ``connect``
first. The :class:`NamespaceInbox` is that waiting room, one per namespace and connection attempt.

It is bounded: at most ``max_events`` events and ``max_bytes`` of received messages (the size of the
Engine.IO messages that carried them, binary attachments included). Beyond either, events are dropped
and counted; the client logs a warning for the first one and the total when the inbox opens or closes.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from dataclasses import dataclass, field

from aiosio.protocol.socketio import Packet

#: Default bound on the events one namespace holds (``AsyncClient(max_held_events=...)``).
DEFAULT_MAX_HELD_EVENTS = 10_000
#: Default bound on their received size in bytes (``AsyncClient(max_held_bytes=...)``).
DEFAULT_MAX_HELD_BYTES = 16 * 1024 * 1024


class InboxState(enum.Enum):
    """Where the namespace is in its connection."""

    #: CONNECT sent, no reply yet: events are held.
    WAITING = "waiting"
    #: CONNECT reply received, the connect handler is running: events are held.
    CONNECTING = "connecting"
    #: The connect handler has finished and the held events were dispatched: events flow.
    OPEN = "open"
    #: Refused, left, or its connection is gone: events are ignored.
    CLOSED = "closed"


@dataclass(eq=False, slots=True)
class NamespaceInbox:
    """The waiting room of one namespace on one connection attempt (see the module docstring)."""

    namespace: str
    max_events: int = DEFAULT_MAX_HELD_EVENTS
    max_bytes: int = DEFAULT_MAX_HELD_BYTES
    state: InboxState = InboxState.WAITING
    held_bytes: int = 0
    #: Events dropped because a bound was reached.
    dropped: int = 0
    #: The namespace was left (or its connection lost) while the connect handler ran: what was held
    #: is still delivered once it finishes, but nothing new is taken.
    closing: bool = False
    #: The task running an ``async`` connect handler (None for a plain one, or before CONNECT).
    connect_task: asyncio.Task[None] | None = None
    #: Set once the connect handler has finished (or will never run): disconnect handlers wait for it.
    settled: asyncio.Event | None = None
    #: The events waiting, oldest first.
    held: deque[Packet] = field(default_factory=deque, init=False)

    @property
    def is_open(self) -> bool:
        """Events are dispatched at once."""
        return self.state is InboxState.OPEN

    @property
    def holds(self) -> bool:
        """Events wait here (CONNECT not yet answered, or the connect handler running)."""
        return self.state is InboxState.WAITING or (self.state is InboxState.CONNECTING and not self.closing)

    def hold(self, packet: Packet, size: int) -> bool:
        """Keep ``packet`` (its messages were ``size`` bytes); False if a bound dropped it."""
        if len(self.held) >= self.max_events or self.held_bytes + size > self.max_bytes:
            self.dropped += 1
            return False
        self.held.append(packet)
        self.held_bytes += size
        return True

    def take(self) -> list[Packet]:
        """Remove and return the held events, oldest first."""
        packets = list(self.held)
        self.held.clear()
        self.held_bytes = 0
        return packets

    def settle(self) -> None:
        """The connect handler is done (or will never run): let waiting disconnect handlers go."""
        self.connect_task = None
        if self.settled is not None:
            self.settled.set()

    async def wait_settled(self) -> None:
        """Wait until :meth:`settle`; at once if the connect handler is not running (or is the caller)."""
        task = self.connect_task
        # done(): with an eager task factory a connect handler that never suspends has settled before
        # its task was even recorded here; there is nothing to wait for.
        if task is None or task is asyncio.current_task() or task.done():
            return
        if self.settled is None:
            self.settled = asyncio.Event()
        await self.settled.wait()

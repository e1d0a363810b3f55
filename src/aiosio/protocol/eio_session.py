"""One Engine.IO v4 session as a state machine, for both roles: handshake, upgrade, close.

Sans-IO: no sockets, no asyncio, no clock. The server session (:mod:`aiosio.engine.session`, driven by
:mod:`aiosio.transport.server`) and the client connection (:mod:`aiosio.client.engine`) each hold one
:class:`EngineIOState` and tell it what happened; it answers with the next state, the packet to send, or
what a received packet means, and raises :class:`ProtocolError` for anything the protocol does not
allow now. They keep only the asyncio side: tasks, timers, queues and sockets.

The upgrade, the one sequence both roles walk (``2probe`` and ``3probe`` on the new WebSocket while
polling goes on, polling paused, then ``5``)::

    client                                      server
    OPEN_POLLING  start_upgrade() -> 2probe     OPEN_POLLING  start_upgrade()         PROBING
    PROBING                                     PROBING       receive_probe(2probe) -> 3probe
    receive_probe(3probe) -> 5      UPGRADING                                        UPGRADING
    (polling paused, in-flight requests end)    (polling GETs answered at once)
    upgrade_sent()             OPEN_WEBSOCKET   receive_probe(5)                OPEN_WEBSOCKET

A failed or timed-out upgrade (:meth:`EngineIOState.abort_upgrade`) goes back to OPEN_POLLING.
"""

from __future__ import annotations

import enum

from .engineio import Packet, PacketType
from .errors import ParseError
from .frames import PONG_PROBE, Frame
from .handshake import Handshake, parse_open


class Role(enum.Enum):
    """Which end of the session a machine is."""

    CLIENT = "client"
    SERVER = "server"


class State(enum.Enum):
    """The states of an Engine.IO session; every role goes through a subset of them in this order."""

    #: Before the handshake: the client waits for the server's OPEN packet.
    OPENING = "opening"
    #: Open on long-polling.
    OPEN_POLLING = "open polling"
    #: A WebSocket for the upgrade is connected; the probe is not answered yet. Polling carries packets.
    PROBING = "probing"
    #: The probe was answered; polling winds down until the UPGRADE packet. The client sends nothing
    #: more over polling; the server answers each polling GET at once.
    UPGRADING = "upgrading"
    #: Open on WebSocket (from the handshake, or after an upgrade).
    OPEN_WEBSOCKET = "open websocket"
    #: The local side said goodbye (a client's ``close()``): its CLOSE packet is being flushed.
    CLOSING = "closing"
    #: Ended, with a reason; final.
    CLOSED = "closed"


class Action(enum.Enum):
    """What a packet received on the session's transport means (:meth:`EngineIOState.receive`)."""

    #: A MESSAGE: hand its data to the layer above.
    DELIVER = "deliver"
    #: The server's PING (client role): answer with a PONG carrying the same data.
    SEND_PONG = "send pong"
    #: The client's PONG (server role): the heartbeat's answer.
    HEARTBEAT = "heartbeat"
    #: The peer's CLOSE: the session ends.
    CLOSE = "close"
    #: Nothing to do: a NOOP, a packet after the session closed, or one this role drops.
    IGNORE = "ignore"


class ProtocolError(ParseError):
    """An event or packet the session's current state does not allow.

    The one error :class:`EngineIOState` raises. It is a :class:`ParseError` (a peer that broke the
    protocol), so the layers that drive the machine end the session cleanly with reason
    ``'parse error'``; during an upgrade only the upgrade fails (the WebSocket is closed, polling goes
    on).
    """


#: The client's upgrade probe (``2probe``) and the UPGRADE packet (``5``), built once.
PING_PROBE = Frame.text(PacketType.PING, b"probe")
UPGRADE = Frame.text(PacketType.UPGRADE)

_MESSAGE = PacketType.MESSAGE

# What a packet on the session's own transport means, per role; a type missing here is a protocol
# error. v4 heartbeats go server -> client, the client never sends OPEN or (outside the upgrade)
# UPGRADE. A client drops packets it has no use for, as engine.io-client and python-engineio do.
_SERVER_RECEIVES = {
    PacketType.MESSAGE: Action.DELIVER,
    PacketType.PONG: Action.HEARTBEAT,
    PacketType.CLOSE: Action.CLOSE,
    PacketType.NOOP: Action.IGNORE,
}
_CLIENT_RECEIVES = {
    PacketType.MESSAGE: Action.DELIVER,
    PacketType.PING: Action.SEND_PONG,
    PacketType.CLOSE: Action.CLOSE,
    PacketType.NOOP: Action.IGNORE,
    PacketType.PONG: Action.IGNORE,
    PacketType.OPEN: Action.IGNORE,
    PacketType.UPGRADE: Action.IGNORE,
}


class EngineIOState:
    """The state of one Engine.IO session, for either role; every transition is a method here.

    ``state`` is the :class:`State`; ``transport`` the transport carrying packets (``''`` before the
    handshake, then ``'polling'`` or ``'websocket'``, kept after the session ends); ``closed`` is
    ``state is State.CLOSED`` as a plain attribute, for checks made on every message; ``close_reason``
    is the reason given to :meth:`close`.
    """

    __slots__ = ("close_reason", "closed", "role", "state", "transport")

    def __init__(self, role: Role) -> None:
        self.role = role
        self.state = State.OPENING
        self.transport = ""
        self.closed = False
        self.close_reason: str | None = None

    def _illegal(self, event: str) -> ProtocolError:
        return ProtocolError(f"{event} not allowed in state {self.state.name} ({self.role.value})")

    @property
    def polling(self) -> bool:
        """True while long-polling carries the session's packets (also while an upgrade is under way)."""
        state = self.state
        return state is State.OPEN_POLLING or state is State.PROBING or state is State.UPGRADING

    @property
    def upgrading(self) -> bool:
        """True from :meth:`start_upgrade` until the upgrade completes, fails or the session ends."""
        state = self.state
        return state is State.PROBING or state is State.UPGRADING

    # -- handshake ----------------------------------------------------------------------------------

    def opened(self, transport: str) -> None:
        """The handshake completed on ``transport``: the server sent its OPEN, or the client read it."""
        if self.state is not State.OPENING:
            raise self._illegal("handshake")
        if transport == "polling":
            self.state = State.OPEN_POLLING
        elif transport == "websocket":
            self.state = State.OPEN_WEBSOCKET
        else:
            raise ProtocolError(f"unknown transport {transport[:20]!r}")
        self.transport = transport

    def open_received(self, packet: Packet, transport: str) -> Handshake:
        """Client: the first packet from the server, which must be a valid OPEN; the session is open."""
        if self.role is not Role.CLIENT or self.state is not State.OPENING:
            raise self._illegal("OPEN packet")
        if packet.type is not PacketType.OPEN:
            raise ProtocolError("OPEN packet not returned by server")
        try:
            handshake = parse_open(packet.data)
        except ParseError as exc:
            raise ProtocolError(f"Invalid OPEN packet: {exc}") from None
        self.opened(transport)
        return handshake

    # -- receiving ----------------------------------------------------------------------------------

    def receive(self, ptype: PacketType) -> Action:
        """What a packet of type ``ptype`` received on the session's transport means now.

        Packets after the session closed are ignored; before the handshake, or of a type this role
        never receives (a PING, OPEN or UPGRADE at the server: the only UPGRADE is the one on the
        upgrading WebSocket, see :meth:`receive_probe`), they are a :class:`ProtocolError`.
        """
        state = self.state
        if state is State.CLOSED:
            return Action.IGNORE
        if state is State.OPENING:
            raise self._illegal(f"{ptype.name} packet")
        table = _SERVER_RECEIVES if self.role is Role.SERVER else _CLIENT_RECEIVES
        action = table.get(ptype)
        if action is None:
            raise ProtocolError(f"unexpected {ptype.name} packet")
        return action

    # -- upgrade ------------------------------------------------------------------------------------

    def start_upgrade(self) -> Frame | None:
        """A WebSocket for the upgrade is connected: OPEN_POLLING -> PROBING.

        Returns the probe the client sends on it (``2probe``); the server waits for it (None). Only a
        session open on polling can upgrade: one upgrading, upgraded or ended raises.
        """
        if self.state is not State.OPEN_POLLING:
            raise self._illegal("upgrade")
        self.state = State.PROBING
        return PING_PROBE if self.role is Role.CLIENT else None

    def receive_probe(self, packet: Packet) -> Frame | None:
        """A packet on the upgrading WebSocket; returns the packet to answer with, if any.

        Server: ``2probe`` while PROBING -> UPGRADING, answered with ``3probe``; then ``5`` ->
        OPEN_WEBSOCKET (NOOPs meanwhile are harmless). Client: ``3probe`` while PROBING -> UPGRADING,
        answered with ``5`` once polling has paused (then :meth:`upgrade_sent`). Anything else, a
        probe answered twice, or a probe on a session no longer upgrading raises.
        """
        state = self.state
        ptype = packet.type
        if self.role is Role.SERVER:
            if state is State.PROBING and ptype is PacketType.PING and packet.data == "probe":
                self.state = State.UPGRADING
                return PONG_PROBE
            if state is State.UPGRADING:
                if ptype is PacketType.UPGRADE and not packet.data:
                    self.state = State.OPEN_WEBSOCKET
                    self.transport = "websocket"
                    return None
                if ptype is PacketType.NOOP:
                    return None
        elif state is State.PROBING and ptype is PacketType.PONG and packet.data == "probe":
            self.state = State.UPGRADING
            return UPGRADE
        raise self._illegal(f"{ptype.name} packet {str(packet.data)[:20]!r} on the upgrading WebSocket")

    def upgrade_sent(self) -> None:
        """Client: the UPGRADE packet went out on the WebSocket: UPGRADING -> OPEN_WEBSOCKET."""
        if self.role is not Role.CLIENT or self.state is not State.UPGRADING:
            raise self._illegal("sending UPGRADE")
        self.state = State.OPEN_WEBSOCKET
        self.transport = "websocket"

    def abort_upgrade(self) -> bool:
        """The upgrade failed or timed out: back to OPEN_POLLING; True if there was one to abort.

        False once the session is closing or closed (the upgrade ended with it); raises if no upgrade
        was under way (it completed, or never started).
        """
        state = self.state
        if state is State.PROBING or state is State.UPGRADING:
            self.state = State.OPEN_POLLING
            return True
        if state is State.CLOSING or state is State.CLOSED:
            return False
        raise self._illegal("aborting an upgrade")

    # -- closing ------------------------------------------------------------------------------------

    def begin_close(self) -> bool:
        """The local side says goodbye (its CLOSE goes out next): an open session -> CLOSING.

        False, changing nothing, before the handshake or once closing or closed. An upgrade under
        way ends here (the session stays on polling to say goodbye).
        """
        state = self.state
        if state is State.OPENING or state is State.CLOSING or state is State.CLOSED:
            return False
        self.state = State.CLOSING
        return True

    def close(self, reason: str) -> bool:
        """The session ended for ``reason``: any state -> CLOSED. True the first time, then False."""
        if self.closed:
            return False
        self.state = State.CLOSED
        self.closed = True
        self.close_reason = reason
        return True

    def __repr__(self) -> str:
        return f"<EngineIOState {self.role.value} {self.state.name} {self.transport or '-'}>"

"""The Engine.IO session state machine of both roles (protocol/eio_session.py): events in, actions out.

The upgrade sequence, its failures, closing, and what each packet means in each state; then hypothesis
over random event sequences: the machine raises nothing but ProtocolError, an illegal event changes
nothing, and the state stays consistent (closed, close reason, transport, the order of the upgrade).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiosio.protocol.eio_session import (
    PING_PROBE,
    UPGRADE,
    Action,
    EngineIOState,
    ProtocolError,
    Role,
    State,
)
from aiosio.protocol.engineio import Packet, PacketType, decode_text
from aiosio.protocol.errors import ParseError
from aiosio.protocol.frames import PONG_PROBE

from ._strategies import PROPERTY

OPEN = '0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000}'


def p(text: str) -> Packet:
    """The packet a text frame decodes to."""
    return decode_text(text)


def server(transport: str = "polling") -> EngineIOState:
    m = EngineIOState(Role.SERVER)
    m.opened(transport)
    return m


def client(transport: str = "polling") -> EngineIOState:
    m = EngineIOState(Role.CLIENT)
    m.open_received(p(OPEN), transport)
    return m


def unchanged_by(m: EngineIOState, event: Callable[[], Any]) -> None:
    """``event`` is illegal: it raises ProtocolError and leaves the machine as it was."""
    before = (m.state, m.transport, m.closed, m.close_reason)
    with pytest.raises(ProtocolError):
        event()
    assert (m.state, m.transport, m.closed, m.close_reason) == before


# -- handshake ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(
    ("transport", "state"), [("polling", State.OPEN_POLLING), ("websocket", State.OPEN_WEBSOCKET)]
)
def test_handshake_opens_on_its_transport(role: Role, transport: str, state: State) -> None:
    m = EngineIOState(role)
    assert (m.state, m.transport, m.closed) == (State.OPENING, "", False)
    m.opened(transport)
    assert (m.state, m.transport) == (state, transport)
    assert m.polling is (transport == "polling")
    unchanged_by(m, lambda: m.opened(transport))  # one handshake per session


def test_unknown_transport_is_refused() -> None:
    m = EngineIOState(Role.SERVER)
    unchanged_by(m, lambda: m.opened("carrier-pigeon"))


def test_client_reads_the_servers_open_packet() -> None:
    m = EngineIOState(Role.CLIENT)
    hs = m.open_received(p(OPEN), "polling")
    assert (hs.sid, hs.upgrades, hs.ping_interval, hs.ping_timeout, hs.max_payload) == (
        "abc",
        ("websocket",),
        25.0,
        20.0,
        1000,
    )
    assert m.state is State.OPEN_POLLING
    unchanged_by(m, lambda: m.open_received(p(OPEN), "polling"))  # a second OPEN is no handshake


@pytest.mark.parametrize(
    ("first", "message"),
    [
        ("40", "OPEN packet not returned by server"),
        ("6", "OPEN packet not returned by server"),
        ("0{}", "Invalid OPEN packet: OPEN packet without a session id"),
        ("0nope", "Invalid OPEN packet"),
    ],
)
def test_client_refuses_anything_but_a_valid_open(first: str, message: str) -> None:
    m = EngineIOState(Role.CLIENT)
    with pytest.raises(ProtocolError, match=message):
        m.open_received(p(first), "polling")
    assert m.state is State.OPENING


def test_server_never_reads_an_open_packet() -> None:
    m = EngineIOState(Role.SERVER)
    unchanged_by(m, lambda: m.open_received(p(OPEN), "polling"))


@pytest.mark.parametrize("role", list(Role))
def test_packets_before_the_handshake_are_a_protocol_error(role: Role) -> None:
    m = EngineIOState(role)
    for ptype in PacketType:
        unchanged_by(m, partial(m.receive, ptype))


# -- the upgrade --------------------------------------------------------------------------------------


def test_server_upgrade_sequence() -> None:
    m = server()
    assert m.start_upgrade() is None  # the server waits for the client's probe
    assert (m.state, m.transport, m.upgrading, m.polling) == (State.PROBING, "polling", True, True)
    answer = m.receive_probe(p("2probe"))
    assert answer is PONG_PROBE and answer.payload == b"3probe"
    assert (m.state, m.transport, m.upgrading) == (State.UPGRADING, "polling", True)
    assert m.receive_probe(p("6")) is None  # a NOOP while waiting for UPGRADE is harmless
    assert m.state is State.UPGRADING
    assert m.receive_probe(p("5")) is None
    assert (m.state, m.transport, m.upgrading, m.polling) == (State.OPEN_WEBSOCKET, "websocket", False, False)


def test_client_upgrade_sequence() -> None:
    m = client()
    probe = m.start_upgrade()
    assert probe is PING_PROBE and probe.payload == b"2probe"
    assert (m.state, m.transport) == (State.PROBING, "polling")
    upgrade = m.receive_probe(p("3probe"))
    assert upgrade is UPGRADE and upgrade.payload == b"5"
    # Polling pauses here; UPGRADE goes out once no polling request is in flight.
    assert (m.state, m.transport) == (State.UPGRADING, "polling")
    m.upgrade_sent()
    assert (m.state, m.transport, m.upgrading) == (State.OPEN_WEBSOCKET, "websocket", False)


def test_server_upgrade_without_a_probe_is_refused() -> None:
    m = server()
    m.start_upgrade()
    unchanged_by(m, lambda: m.receive_probe(p("5")))


def test_client_cannot_send_upgrade_before_the_probe_is_answered() -> None:
    m = client()
    m.start_upgrade()
    unchanged_by(m, m.upgrade_sent)


@pytest.mark.parametrize("text", ["2garbage", "2", "3probe", "4hello", "1", "5x", "0{}"])
def test_server_refuses_a_wrong_probe(text: str) -> None:
    m = server()
    m.start_upgrade()
    unchanged_by(m, lambda: m.receive_probe(p(text)))


@pytest.mark.parametrize("text", ["2probe", "4hello", "5x", "3", "6"])
def test_server_refuses_anything_but_upgrade_after_the_probe(text: str) -> None:
    m = server()
    m.start_upgrade()
    m.receive_probe(p("2probe"))
    if text == "6":
        assert m.receive_probe(p(text)) is None
    else:
        unchanged_by(m, lambda: m.receive_probe(p(text)))


@pytest.mark.parametrize("text", ["2probe", "3", "3garbage", "5", "6", "4x"])
def test_client_refuses_a_wrong_answer_to_the_probe(text: str) -> None:
    m = client()
    m.start_upgrade()
    unchanged_by(m, lambda: m.receive_probe(p(text)))


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("probed", [False, True], ids=["before-probe", "after-probe"])
def test_aborted_upgrade_goes_back_to_polling_and_may_be_tried_again(role: Role, probed: bool) -> None:
    m = server() if role is Role.SERVER else client()
    m.start_upgrade()
    if probed:
        m.receive_probe(p("2probe" if role is Role.SERVER else "3probe"))
    assert m.abort_upgrade() is True  # timeout, failure, cancellation
    assert (m.state, m.transport, m.upgrading) == (State.OPEN_POLLING, "polling", False)
    m.start_upgrade()
    assert m.state is State.PROBING


@pytest.mark.parametrize("role", list(Role))
def test_abort_without_an_upgrade_is_illegal(role: Role) -> None:
    m = server() if role is Role.SERVER else client()
    unchanged_by(m, m.abort_upgrade)
    ws = server("websocket") if role is Role.SERVER else client("websocket")
    unchanged_by(ws, ws.abort_upgrade)


@pytest.mark.parametrize("role", list(Role))
def test_a_second_upgrade_while_one_is_under_way_is_refused(role: Role) -> None:
    m = server() if role is Role.SERVER else client()
    m.start_upgrade()
    unchanged_by(m, m.start_upgrade)
    m.receive_probe(p("2probe" if role is Role.SERVER else "3probe"))
    unchanged_by(m, m.start_upgrade)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("opened_on", ["upgrade", "handshake"])
def test_probe_on_a_session_already_on_websocket_is_illegal(role: Role, opened_on: str) -> None:
    if opened_on == "handshake":
        m = server("websocket") if role is Role.SERVER else client("websocket")
    else:
        m = server() if role is Role.SERVER else client()
        m.start_upgrade()
        if role is Role.SERVER:
            m.receive_probe(p("2probe"))
            m.receive_probe(p("5"))
        else:
            m.receive_probe(p("3probe"))
            m.upgrade_sent()
    unchanged_by(m, m.start_upgrade)  # another WebSocket for this sid
    unchanged_by(m, lambda: m.receive_probe(p("2probe")))
    unchanged_by(m, lambda: m.receive_probe(p("3probe")))
    if role is Role.SERVER:
        unchanged_by(m, lambda: m.receive(PacketType.PING))  # "2probe" on the session's own WebSocket


def test_a_second_upgrade_packet_is_illegal() -> None:
    m = server()
    m.start_upgrade()
    m.receive_probe(p("2probe"))
    m.receive_probe(p("5"))
    unchanged_by(m, lambda: m.receive_probe(p("5")))
    unchanged_by(m, lambda: m.receive(PacketType.UPGRADE))  # on the upgraded WebSocket itself


def test_client_sends_upgrade_once() -> None:
    m = client()
    m.start_upgrade()
    m.receive_probe(p("3probe"))
    m.upgrade_sent()
    unchanged_by(m, m.upgrade_sent)


def test_server_never_sends_upgrade() -> None:
    m = server()
    m.start_upgrade()
    m.receive_probe(p("2probe"))
    unchanged_by(m, m.upgrade_sent)


# -- closing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("probed", [False, True], ids=["probing", "upgrading"])
def test_close_during_an_upgrade_ends_it(role: Role, probed: bool) -> None:
    m = server() if role is Role.SERVER else client()
    m.start_upgrade()
    if probed:
        m.receive_probe(p("2probe" if role is Role.SERVER else "3probe"))
    assert m.close("ping timeout") is True
    assert (m.state, m.closed, m.close_reason, m.upgrading, m.polling) == (
        State.CLOSED,
        True,
        "ping timeout",
        False,
        False,
    )
    assert m.abort_upgrade() is False  # the upgrade's own cleanup, arriving late, changes nothing
    unchanged_by(m, lambda: m.receive_probe(p("5" if role is Role.SERVER else "3probe")))
    unchanged_by(m, m.start_upgrade)
    if role is Role.CLIENT:
        unchanged_by(m, m.upgrade_sent)


def test_client_close_during_upgrade_says_goodbye_over_polling() -> None:
    m = client()
    m.start_upgrade()
    m.receive_probe(p("3probe"))
    assert m.begin_close() is True
    assert (m.state, m.transport, m.closed) == (State.CLOSING, "polling", False)
    assert m.abort_upgrade() is False
    unchanged_by(m, m.upgrade_sent)
    unchanged_by(m, m.start_upgrade)
    assert m.receive(PacketType.MESSAGE) is Action.DELIVER  # the server may still be talking
    assert m.close("client disconnect") is True
    assert m.state is State.CLOSED


@pytest.mark.parametrize("role", list(Role))
def test_close_twice_keeps_the_first_reason(role: Role) -> None:
    m = server() if role is Role.SERVER else client()
    assert m.close("transport close") is True
    assert m.close("parse error") is False
    assert (m.state, m.close_reason) == (State.CLOSED, "transport close")
    assert m.begin_close() is False
    assert m.transport == "polling"  # the last transport stays readable


def test_begin_close_once_and_only_when_open() -> None:
    m = EngineIOState(Role.CLIENT)
    assert m.begin_close() is False  # nothing to say goodbye on before the handshake
    assert m.state is State.OPENING
    assert m.close("transport error") is True  # a failed handshake still ends
    m = client("websocket")
    assert m.begin_close() is True
    assert m.begin_close() is False
    assert m.state is State.CLOSING


@pytest.mark.parametrize("role", list(Role))
def test_packets_after_close_are_ignored(role: Role) -> None:
    m = server() if role is Role.SERVER else client()
    m.close("server disconnect")
    for ptype in PacketType:
        assert m.receive(ptype) is Action.IGNORE


# -- what packets mean ----------------------------------------------------------------------------------


SERVER_MEANING = {
    PacketType.MESSAGE: Action.DELIVER,
    PacketType.PONG: Action.HEARTBEAT,
    PacketType.CLOSE: Action.CLOSE,
    PacketType.NOOP: Action.IGNORE,
}
CLIENT_MEANING = {
    PacketType.MESSAGE: Action.DELIVER,
    PacketType.PING: Action.SEND_PONG,
    PacketType.CLOSE: Action.CLOSE,
    PacketType.NOOP: Action.IGNORE,
    PacketType.PONG: Action.IGNORE,
    PacketType.OPEN: Action.IGNORE,
    PacketType.UPGRADE: Action.IGNORE,
}


def _in_every_open_state(role: Role) -> list[EngineIOState]:
    machines = []
    for step in range(4):
        m = server() if role is Role.SERVER else client()
        if step >= 1:
            m.start_upgrade()
        if step >= 2:
            m.receive_probe(p("2probe" if role is Role.SERVER else "3probe"))
        if step >= 3:
            if role is Role.SERVER:
                m.receive_probe(p("5"))
            else:
                m.upgrade_sent()
        machines.append(m)
    return machines


@pytest.mark.parametrize("role", list(Role))
def test_what_each_packet_means_in_every_open_state(role: Role) -> None:
    meaning = SERVER_MEANING if role is Role.SERVER else CLIENT_MEANING
    for m in _in_every_open_state(role):
        for ptype in PacketType:
            if ptype in meaning:
                assert m.receive(ptype) is meaning[ptype], (m, ptype)
            else:
                # v4 heartbeats go server -> client; the client never sends OPEN; its only UPGRADE
                # is the one on the upgrading WebSocket.
                unchanged_by(m, partial(m.receive, ptype))


def test_protocol_error_is_a_parse_error() -> None:
    # The layers that drive the machine already end a session with 'parse error' for a ParseError.
    assert issubclass(ProtocolError, ParseError)


# -- random event sequences ---------------------------------------------------------------------------

_FRAMES = [
    "2probe",
    "3probe",
    "5",
    "6",
    "2",
    "3",
    "1",
    "4hello",
    "2probex",
    "0{}",
    OPEN,
    "0nope",
    '0{"sid":"x","pingInterval":true,"pingTimeout":1}',
]
_packets = st.one_of(
    st.sampled_from(_FRAMES).map(decode_text),
    st.builds(
        Packet, st.sampled_from(list(PacketType)), st.one_of(st.text(max_size=8), st.binary(max_size=4))
    ),
)
_events = st.one_of(
    st.tuples(st.just("opened"), st.sampled_from(["polling", "websocket", "", "x"])),
    st.tuples(st.just("open_received"), _packets, st.sampled_from(["polling", "websocket"])),
    st.tuples(st.just("receive"), st.sampled_from(list(PacketType))),
    st.tuples(st.just("start_upgrade")),
    st.tuples(st.just("receive_probe"), _packets),
    st.tuples(st.just("upgrade_sent")),
    st.tuples(st.just("abort_upgrade")),
    st.tuples(st.just("begin_close")),
    st.tuples(st.just("close"), st.sampled_from(["transport close", "ping timeout"])),
)
# Most events are the upgrade steps of either role, so that random sequences walk (and break) the
# upgrade in every order; the rest are anything at all, closing included.
_steps = st.sampled_from(
    [
        ("start_upgrade",),
        ("receive_probe", p("2probe")),
        ("receive_probe", p("3probe")),
        ("receive_probe", p("5")),
        ("receive_probe", p("6")),
        ("upgrade_sent",),
        ("abort_upgrade",),
    ]
)
# A correct upgrade of either role, as one chunk: what follows it then starts from OPEN_WEBSOCKET.
_walks = st.sampled_from(
    [
        [("start_upgrade",), ("receive_probe", p("2probe")), ("receive_probe", p("5"))],
        [("start_upgrade",), ("receive_probe", p("3probe")), ("upgrade_sent",)],
        [("start_upgrade",), ("receive_probe", p("2probe"))],
        [("start_upgrade",), ("receive_probe", p("3probe"))],
    ]
)
# (st.one_of would flatten _events' branches and weigh each like all of _steps.)
_sequences = st.lists(
    st.integers(0, 5).flatmap(
        lambda i: _events.map(lambda e: [e]) if i == 0 else _walks if i == 1 else _steps.map(lambda e: [e])
    ),
    max_size=20,
).map(lambda chunks: [e for chunk in chunks for e in chunk])
_handshakes = st.sampled_from(
    [
        [],
        [("opened", "polling")],
        [("open_received", p(OPEN), "polling")],
        [("opened", "websocket")],
    ]
)

_POLLING = {State.OPEN_POLLING, State.PROBING, State.UPGRADING}
# Every legal transition, per role; anything else would be a bug in the machine.
_EDGES = {
    Role.SERVER: {
        (State.OPENING, State.OPEN_POLLING),
        (State.OPENING, State.OPEN_WEBSOCKET),
        (State.OPEN_POLLING, State.PROBING),
        (State.PROBING, State.UPGRADING),
        (State.UPGRADING, State.OPEN_WEBSOCKET),
        (State.PROBING, State.OPEN_POLLING),
        (State.UPGRADING, State.OPEN_POLLING),
    },
    Role.CLIENT: {
        (State.OPENING, State.OPEN_POLLING),
        (State.OPENING, State.OPEN_WEBSOCKET),
        (State.OPEN_POLLING, State.PROBING),
        (State.PROBING, State.UPGRADING),
        (State.UPGRADING, State.OPEN_WEBSOCKET),
        (State.PROBING, State.OPEN_POLLING),
        (State.UPGRADING, State.OPEN_POLLING),
    },
}
_OPEN_STATES = {State.OPEN_POLLING, State.PROBING, State.UPGRADING, State.OPEN_WEBSOCKET}


def _check(m: EngineIOState) -> None:
    assert m.state in State
    assert m.closed is (m.state is State.CLOSED)
    assert (m.close_reason is not None) is m.closed
    if m.state is State.OPENING:
        assert m.transport == ""
    elif m.state in _POLLING:
        assert m.transport == "polling" and m.polling
    elif m.state is State.OPEN_WEBSOCKET:
        assert m.transport == "websocket" and not m.polling
    assert m.upgrading is (m.state in (State.PROBING, State.UPGRADING))


@PROPERTY
@given(role=st.sampled_from(list(Role)), handshake=_handshakes, events=_sequences)
def test_random_event_sequences_stay_in_the_machine(
    role: Role, handshake: list[tuple[Any, ...]], events: list[tuple[Any, ...]]
) -> None:
    m = EngineIOState(role)
    for name, *args in handshake + events:
        before = (m.state, m.transport, m.closed, m.close_reason)
        try:
            result = getattr(m, name)(*args)
        except ProtocolError:
            # An illegal event changes nothing.
            assert (m.state, m.transport, m.closed, m.close_reason) == before
            _check(m)
            continue
        _check(m)
        old, new = before[0], m.state
        if name == "receive":
            assert isinstance(result, Action)
            assert new is old
        if old is State.CLOSED:
            assert new is State.CLOSED  # final
        elif new is not old:
            if new is State.CLOSED:
                assert name == "close"
            elif new is State.CLOSING:
                assert name == "begin_close" and old in _OPEN_STATES
            else:
                assert (old, new) in _EDGES[role], (name, old, new)
        if name == "start_upgrade":
            assert result is (PING_PROBE if role is Role.CLIENT else None)

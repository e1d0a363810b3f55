"""The Engine.IO v4 heartbeat deadline state machine (heartbeat.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aiosio.protocol.heartbeat import Heartbeat, HeartbeatAction

from ._strategies import PROPERTY

INTERVAL = 25.0
TIMEOUT = 20.0


def test_first_ping_is_due_one_interval_after_the_handshake():
    hb = Heartbeat(INTERVAL, TIMEOUT, now=100.0)
    assert hb.deadline == 125.0
    assert not hb.awaiting_pong


def test_expiry_sends_a_ping_and_sets_the_pong_deadline():
    hb = Heartbeat(INTERVAL, TIMEOUT, now=100.0)
    assert hb.expire(now=125.0) is HeartbeatAction.SEND_PING
    assert hb.awaiting_pong
    assert hb.deadline == 145.0


def test_pong_sets_the_next_ping_one_interval_later():
    hb = Heartbeat(INTERVAL, TIMEOUT, now=100.0)
    hb.expire(now=125.0)
    assert hb.pong(now=130.0) is True
    assert not hb.awaiting_pong
    assert hb.deadline == 155.0


def test_expiry_while_awaiting_pong_times_out_and_changes_nothing():
    hb = Heartbeat(INTERVAL, TIMEOUT, now=100.0)
    hb.expire(now=125.0)
    assert hb.expire(now=145.0) is HeartbeatAction.TIMED_OUT
    assert hb.awaiting_pong
    assert hb.deadline == 145.0


def test_unsolicited_pong_is_reported_and_ignored():
    hb = Heartbeat(INTERVAL, TIMEOUT, now=100.0)
    assert hb.pong(now=110.0) is False
    assert hb.deadline == 125.0
    assert not hb.awaiting_pong


def test_second_pong_for_one_ping_is_ignored():
    hb = Heartbeat(INTERVAL, TIMEOUT, now=0.0)
    hb.expire(now=25.0)
    assert hb.pong(now=26.0) is True
    assert hb.pong(now=27.0) is False
    assert hb.deadline == 51.0


def test_action_values_name_the_close_reason():
    assert HeartbeatAction.TIMED_OUT.value == "ping timeout"


events = st.lists(
    st.tuples(st.sampled_from(["expire", "pong"]), st.floats(min_value=0, max_value=100)), max_size=30
)


@PROPERTY
@given(st.floats(min_value=0.001, max_value=100), st.floats(min_value=0.001, max_value=100), events)
def test_heartbeat_matches_a_reference_model(interval, timeout, steps):
    now = 0.0
    hb = Heartbeat(interval, timeout, now)
    awaiting, deadline = False, interval
    for kind, delay in steps:
        now += delay
        if kind == "expire":
            action = hb.expire(now)
            if awaiting:
                assert action is HeartbeatAction.TIMED_OUT
            else:
                assert action is HeartbeatAction.SEND_PING
                base = deadline if now - deadline < timeout / 4 else now
                awaiting, deadline = True, base + timeout
        else:
            accepted = hb.pong(now)
            assert accepted is awaiting
            if awaiting:
                awaiting, deadline = False, now + interval
        assert hb.awaiting_pong is awaiting
        assert hb.deadline == deadline

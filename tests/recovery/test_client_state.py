"""The client's recovery bookkeeping alone: what the CONNECT carries, which trailing strings are
offsets, and when a connection counts as recovered."""

from __future__ import annotations

import time
from typing import Any

from aiosio.client.recovery import RecoveryState


def now_offset() -> str:
    return f"{int(time.time() * 1000)}-3"


def test_no_pid_no_change_to_the_connect_payload() -> None:
    state = RecoveryState()
    assert state.connect_payload("/", None) == {}
    assert state.connect_payload("/", {"token": 1}) == {"token": 1}
    data: list[Any] = ["e", now_offset()]
    state.on_event("/", data)  # no pid: the server has recovery off, nothing is an offset
    assert len(data) == 2 and state.offsets == {}


def test_pid_offset_and_the_apps_keys_win() -> None:
    state = RecoveryState()
    assert state.on_connect("/", {"sid": "s", "pid": "p"}) is False
    assert state.connect_payload("/", None) == {"pid": "p"}  # no offset received yet
    offset = now_offset()
    data: list[Any] = ["e", 1, offset]
    state.on_event("/", data)
    assert data == ["e", 1] and state.offsets == {"/": offset}
    assert state.connect_payload("/", {"token": 1}) == {"pid": "p", "offset": offset, "token": 1}
    assert state.connect_payload("/", {"pid": "mine"})["pid"] == "mine"
    assert state.connect_payload("/", "not-a-dict") == "not-a-dict"
    assert state.connect_payload("/admin", None) == {}


def test_only_offset_shaped_recent_strings_are_taken() -> None:
    state = RecoveryState()
    state.on_connect("/", {"sid": "s", "pid": "p"})
    for value in ["plainstring", "1600000000000-0", "abcdefg", 42, "", "12-x"]:
        data: list[Any] = ["e", value]
        state.on_event("/", data)
        assert data == ["e", value] and "/" not in state.offsets
    yeast_now = ""
    ms = int(time.time() * 1000)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"
    while ms:
        ms, digit = divmod(ms, 64)
        yeast_now = alphabet[digit] + yeast_now
    data = ["e", yeast_now]
    state.on_event("/", data)
    assert data == ["e"] and state.offsets == {"/": yeast_now}  # Node's in-memory form
    keep = RecoveryState(strip=False)
    keep.on_connect("/", {"sid": "s", "pid": "p"})
    data = ["e", yeast_now]
    keep.on_event("/", data)
    assert data == ["e", yeast_now] and keep.offsets == {"/": yeast_now}


def test_recovered_only_when_the_same_pid_comes_back() -> None:
    state = RecoveryState()
    state.on_connect("/", {"sid": "s", "pid": "p"})
    state.offsets["/"] = now_offset()
    assert state.on_connect("/", {"sid": "s", "pid": "p"}) is True and state.recovered == {"/"}
    assert state.on_connect("/", {"sid": "t", "pid": "q"}) is False and state.recovered == set()
    assert "/" not in state.offsets  # the old offset means nothing in a new session
    assert state.on_connect("/", {"sid": "u"}) is False and state.pids == {}  # recovery off now
    state.on_connect("/", {"sid": "s", "pid": "p"})
    state.forget()
    assert state.pids == {} and state.connect_payload("/", None) == {}

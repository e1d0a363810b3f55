"""Unit tests of the client's sans-IO pieces: backoff, handshake and URLs, handler lookup.

Its packet codec is the protocol core's parser, tested in tests/unit/test_parsers.py.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiosio.client.backoff import Backoff
from aiosio.client.dispatch import disconnect_args, find_handler
from aiosio.client.eio_state import DEFAULT_MAX_PAYLOAD, engine_url, normalize_transports, parse_open
from aiosio.protocol.errors import ParseError


def fixed(*values: float) -> Any:
    it = itertools.cycle(values)
    return lambda: next(it)


class TestBackoff:
    def test_doubles_without_jitter_and_caps(self) -> None:
        b = Backoff(1, 5, jitter=0)
        assert [b.duration() for _ in range(5)] == [1, 2, 4, 5, 5]

    def test_reset(self) -> None:
        b = Backoff(0.5, 10, jitter=0)
        b.duration(), b.duration()
        b.reset()
        assert b.duration() == 0.5

    def test_jitter_direction_follows_first_decimal_parity(self) -> None:
        # rand 0.25 -> floor(2.5)=2 (even): subtract 0.25*0.5*ms; rand 0.35 -> 3 (odd): add.
        assert Backoff(1, 100, jitter=0.5, random_source=fixed(0.25)).duration() == pytest.approx(0.875)
        assert Backoff(1, 100, jitter=0.5, random_source=fixed(0.35)).duration() == pytest.approx(1.175)

    def test_jitter_is_multiplicative(self) -> None:
        b = Backoff(1, 1000, jitter=0.5, random_source=fixed(0.35))
        durations = [b.duration() for _ in range(4)]
        assert durations == pytest.approx([1.175, 2.35, 4.7, 9.4])

    def test_capped_after_jitter(self) -> None:
        b = Backoff(4, 5, jitter=0.5, random_source=fixed(0.99))
        assert b.duration() == 5  # 4 + 0.99*0.5*4 = 5.98, capped

    def test_many_attempts_do_not_overflow(self) -> None:
        b = Backoff(1, 5, jitter=0.5)
        b.attempts = 10_000
        assert 0 <= b.duration() <= 5

    @given(st.floats(0, 0.9999), st.integers(0, 200), st.floats(0.01, 10), st.floats(0, 1))
    def test_always_within_bounds(self, rand: float, attempts: int, base: float, jitter: float) -> None:
        b = Backoff(base, base * 4, jitter=jitter, random_source=lambda: rand)
        b.attempts = attempts
        assert 0 <= b.duration() <= base * 4

    def test_rejects_bad_settings(self) -> None:
        with pytest.raises(ValueError):
            Backoff(-1, 5)
        with pytest.raises(ValueError):
            Backoff(1, 5, jitter=2)


class TestHandshake:
    def test_parse_open(self) -> None:
        hs = parse_open(
            '{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000}'
        )
        assert hs.sid == "abc"
        assert hs.upgrades == ("websocket",)
        assert hs.ping_interval == 25.0
        assert hs.ping_timeout == 20.0
        assert hs.max_payload == 1000

    def test_max_payload_defaults(self) -> None:
        hs = parse_open('{"sid":"a","upgrades":[],"pingInterval":1,"pingTimeout":1}')
        assert hs.max_payload == DEFAULT_MAX_PAYLOAD

    @pytest.mark.parametrize(
        "data",
        [
            "",
            "[]",
            "{}",
            '{"sid":"","pingInterval":1,"pingTimeout":1}',
            '{"sid":"a","pingInterval":"1","pingTimeout":1}',
            '{"sid":"a","pingInterval":true,"pingTimeout":1}',
            '{"sid":"a","pingInterval":1,"pingTimeout":0}',
            '{"sid":"a","pingInterval":1,"pingTimeout":1,"upgrades":"websocket"}',
            '{"sid":"a","pingInterval":1,"pingTimeout":1,"maxPayload":-5}',
            b"binary",
        ],
    )
    def test_parse_open_rejects(self, data: Any) -> None:
        with pytest.raises(ParseError):
            parse_open(data)

    @given(st.text(max_size=200))
    def test_parse_open_only_raises_parse_error(self, data: str) -> None:
        try:
            parse_open(data)
        except ParseError:
            pass

    def test_engine_url(self) -> None:
        assert (
            engine_url("http://h:1", "socket.io", "polling")
            == "http://h:1/socket.io/?EIO=4&transport=polling"
        )
        assert (
            engine_url("https://h/ignored/path?x=1", "/custom/", "websocket", "s/d")
            == "wss://h/custom/?x=1&EIO=4&transport=websocket&sid=s%2Fd"
        )
        assert engine_url("ws://h", "socket.io", "polling").startswith("http://h/")
        with pytest.raises(ValueError):
            engine_url("ftp://h", "socket.io", "polling")
        with pytest.raises(ValueError):
            engine_url("http://", "socket.io", "polling")

    def test_transports(self) -> None:
        assert normalize_transports(None) == ("polling", "websocket")
        assert normalize_transports("websocket") == ("websocket",)
        assert normalize_transports(["websocket", "bogus", "polling"]) == ("websocket", "polling")
        with pytest.raises(ValueError):
            normalize_transports(["bogus"])


class TestDispatch:
    def h(self, name: str) -> Any:
        return lambda *a: (name, a)

    def test_lookup_order(self) -> None:
        handlers = {"/": {"ev": self.h("exact"), "*": self.h("ns-catchall")}, "*": {"ev": self.h("any-ns")}}
        handler, args = find_handler(handlers, "ev", "/", (1,))
        assert handler is not None and handler(*args) == ("exact", (1,))
        handler, args = find_handler(handlers, "other", "/", (1,))
        assert handler is not None and handler(*args) == ("ns-catchall", ("other", 1))
        # /chat has no handlers of its own: the '*' namespace gets it, namespace first.
        handler, args = find_handler(handlers, "ev", "/chat", (1,))
        assert handler is not None and handler(*args) == ("any-ns", ("/chat", 1))
        handler, args = find_handler(handlers, "other", "/chat", (1,))
        assert handler is None

    def test_double_catch_all(self) -> None:
        handlers = {"*": {"*": self.h("all")}}
        handler, args = find_handler(handlers, "ev", "/x", (1, 2))
        assert handler is not None and handler(*args) == ("all", ("ev", "/x", 1, 2))

    @pytest.mark.parametrize("event", ["connect", "connect_error", "disconnect"])
    def test_catch_all_never_gets_lifecycle_events(self, event: str) -> None:
        assert find_handler({"/": {"*": self.h("x")}}, event, "/", ())[0] is None
        assert find_handler({"*": {"*": self.h("x")}}, event, "/", ())[0] is None

    def test_disconnect_args_legacy(self) -> None:
        def legacy() -> None: ...

        def modern(reason: str) -> None: ...

        def star(*args: Any) -> None: ...

        assert disconnect_args(legacy, ("r",)) == ()
        assert disconnect_args(modern, ("r",)) == ("r",)
        assert disconnect_args(star, ("r",)) == ("r",)
        # catch-all-namespace disconnect handler: (namespace, reason) or legacy (namespace)
        assert disconnect_args(modern, ("/x", "r")) == ("/x",)

"""Bad input: every decoder raises ClusterMessageError and nothing else, quickly, without big memory."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import msgpack
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiosio.protocol import cluster as c

from .._strategies import FUZZ
from . import strategies as s
from .captured import CAPTURED, EMITTED

Decoder = Callable[[bytes], Any]
DECODERS: list[Decoder] = [
    c.decode_broadcast,
    c.decode_request,
    c.decode_response,
    c.decode_cluster,
    c.unpack,
    c.loads,
]
_ids = [d.__name__ for d in DECODERS]


def _refused_or_valid(decode: Decoder, payload: Any) -> bool:
    """Decode; True if refused with ClusterMessageError. Any other exception fails the test."""
    try:
        decode(payload)
    except c.ClusterMessageError:
        return True
    return False


def _decoder_of(channel: str, command: str) -> Decoder:
    if command == "SPUBLISH":
        return c.decode_cluster
    if channel.startswith("socket.io-request#"):
        return c.decode_request
    if channel.startswith("socket.io-response#"):
        return c.decode_response
    return c.decode_broadcast


VECTORS = [(_decoder_of(ch, cmd), payload) for _, cmd, ch, _, payload in CAPTURED] + [
    (_decoder_of(ch, "PUBLISH"), payload) for ch, payload in EMITTED
]


# -- random input ---------------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=256), st.sampled_from(DECODERS))
def test_random_bytes(payload: bytes, decode: Decoder) -> None:
    _refused_or_valid(decode, payload)
    _refused_or_valid(decode, b"{" + payload)


_KEYS = st.sampled_from(
    [
        "uid",
        "requestId",
        "type",
        "opts",
        "rooms",
        "except",
        "flags",
        "packet",
        "data",
        "nsp",
        "sid",
        "room",
        "close",
        "sockets",
        "clientCount",
        "id",
        "handshake",
        "timeout",
        "volatile",
    ]
)
_VALUES = st.one_of(
    s.scalars,
    st.integers(min_value=-2, max_value=14),
    st.binary(max_size=4),
    st.sampled_from(["/", "x", "emitter", "room1"]),
)
#: Maps and lists made of the wire's own key names, so the fuzz reaches the field checks.
_SHAPED = st.recursive(
    _VALUES,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(_KEYS, children, max_size=6)),
    max_leaves=30,
)


@FUZZ
@given(_SHAPED, st.sampled_from(DECODERS))
def test_wire_shaped_garbage(value: Any, decode: Decoder) -> None:
    _refused_or_valid(decode, msgpack.packb(value, use_bin_type=True))
    _refused_or_valid(decode, c.dumps(value))


# -- every field of every real message, with the wrong type ------------------------------------------

_WRONG: list[Any] = [None, True, -1, 2**64 - 1, 1.5, "x", b"x", [], [{}], [[1]], {}, {"a": {}}]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*path, index)
            yield from _paths(item, (*path, index))


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        out = dict(value)
        if new is _DELETE and not rest:
            del out[head]
            return out
    else:
        out = list(value)
        if new is _DELETE and not rest:
            del out[head]
            return out
    out[head] = _replaced(value[head], rest, new)
    return out


_DELETE = object()


@pytest.mark.parametrize(
    ("decode", "payload"), VECTORS, ids=[f"{d.__name__}-{i}" for i, (d, _) in enumerate(VECTORS)]
)
def test_every_field_with_a_wrong_type(decode: Decoder, payload: bytes) -> None:
    is_json = payload[:1] == b"{"
    original = c.loads(payload) if is_json else c.unpack(payload)
    refused = 0
    for path in _paths(original):
        for bad in [*_WRONG, _DELETE]:
            mutated = _replaced(original, path, bad)
            wire = c.dumps(mutated) if is_json else msgpack.packb(mutated, use_bin_type=True)
            refused += _refused_or_valid(decode, wire)
    assert refused > 0


# -- refusals that matter ---------------------------------------------------------------------------


def _bcast(packet: Any = None, opts: Any = None, uid: Any = "u") -> bytes:
    packet = {"type": 2, "data": ["ev", 1], "nsp": "/"} if packet is None else packet
    opts = {"rooms": [], "except": [], "flags": {}} if opts is None else opts
    return msgpack.packb([uid, packet, opts], use_bin_type=True)


REFUSED: list[tuple[Decoder, Any]] = [
    (c.decode_broadcast, _bcast(uid=7)),
    (c.decode_broadcast, _bcast({"type": 2, "data": [1, "x"], "nsp": "/"})),  # event name not a string
    (c.decode_broadcast, _bcast({"type": 2, "data": [b"ev"], "nsp": "/"})),
    (c.decode_broadcast, _bcast({"type": 2, "data": [], "nsp": "/"})),
    (c.decode_broadcast, _bcast({"type": 3, "data": ["ev"], "nsp": "/"})),
    (c.decode_broadcast, _bcast({"type": 2, "data": ["ev"], "nsp": 1})),
    (c.decode_broadcast, _bcast({"type": 2, "data": ["ev"], "id": -1})),
    (c.decode_broadcast, _bcast({"type": 2, "data": ["ev"], "id": 2**53})),
    (c.decode_broadcast, _bcast(opts={"rooms": [{"a": 1}]})),  # a room of type dict
    (c.decode_broadcast, _bcast(opts={"rooms": [True]})),
    (c.decode_broadcast, _bcast(opts={"rooms": [1.5]})),
    (c.decode_broadcast, _bcast(opts={"rooms": "room1"})),
    (c.decode_broadcast, _bcast(opts={"except": [None]})),
    (c.decode_broadcast, _bcast(opts={"flags": {"timeout": "1000"}})),
    (c.decode_broadcast, _bcast(opts={"flags": {"timeout": -1}})),
    (c.decode_broadcast, _bcast(opts={"flags": {"timeout": float("nan")}})),
    (c.decode_broadcast, _bcast(opts={"flags": {"volatile": 1}})),
    (c.decode_broadcast, _bcast(opts={"flags": {1: True}})),
    (c.decode_broadcast, _bcast(opts=[])),
    (c.decode_broadcast, msgpack.packb(["u", {"type": 2, "data": ["ev"]}])),
    (c.decode_broadcast, b"{}"),
    (c.decode_request, b'{"uid":"u","requestId":"r","type":99}'),
    (c.decode_request, b'{"uid":"u","requestId":"r","type":true}'),
    (c.decode_request, b'{"uid":"u","requestId":"r","type":"5"}'),
    (c.decode_request, b'{"uid":"u","requestId":"r","type":1.0}'),
    (c.decode_request, b'{"uid":"u","requestId":5,"type":1}'),
    (c.decode_request, b'{"uid":3,"requestId":"r","type":1}'),
    (c.decode_request, b'{"uid":"u","type":6,"data":"hello"}'),
    (c.decode_request, b'{"uid":"u","type":6,"data":[["hello"]]}'),
    (c.decode_request, b'{"uid":"u","type":2,"opts":{"rooms":[],"except":[]},"rooms":"r"}'),
    (c.decode_request, b'{"uid":"u","type":2,"opts":{"rooms":[],"except":[]}}'),
    (c.decode_request, b'{"uid":"u","type":4,"opts":{"rooms":[],"except":[]},"close":"yes"}'),
    (c.decode_request, b'{"uid":"u","requestId":"r","type":2,"sid":"s","room":{}}'),
    (c.decode_request, b'{"uid":"u","requestId":"r","type":5,"opts":[]}'),
    (c.decode_request, b"[1,2,3]"),
    (c.decode_response, b'{"requestId":"r","type":8,"clientCount":-1}'),
    (c.decode_response, b'{"requestId":"r","type":8,"clientCount":1.5}'),
    (c.decode_response, b'{"requestId":"r","type":8,"clientCount":NaN}'),  # NaN in JSON
    (c.decode_response, b'{"requestId":"r","type":8,"clientCount":Infinity}'),
    (c.decode_response, b'{"requestId":"r","type":7}'),
    (c.decode_response, b'{"requestId":"r","sockets":"x"}'),
    (c.decode_response, b'{"requestId":"r","sockets":[1,"a"]}'),
    (c.decode_response, b'{"requestId":"r","sockets":[{"id":"a","handshake":[]}]}'),
    (c.decode_response, b'{"requestId":"r","rooms":{"a":1}}'),
    (c.decode_response, b'{"sockets":[]}'),
    (c.decode_cluster, b'{"type":0,"uid":"u","nsp":"/"}'),
    (c.decode_cluster, b'{"type":14,"uid":"u","nsp":"/"}'),
    (c.decode_cluster, b'{"type":2,"uid":"u"}'),
    (c.decode_cluster, b'{"type":2,"nsp":"/"}'),
    (c.decode_cluster, b'{"type":3,"uid":"u","nsp":"/"}'),
    (c.decode_cluster, b'{"type":3,"data":{"packet":{"type":2,"data":[7]},"opts":{}},"uid":"u","nsp":"/"}'),
    (c.decode_cluster, b'{"type":9,"data":{"packet":"hello"},"uid":"u","nsp":"/"}'),
    (c.decode_cluster, b'{"type":11,"data":{"requestId":"r","clientCount":"1"},"uid":"u","nsp":"/"}'),
    (c.decode_cluster, b'{"type":8,"data":{"requestId":"r","sockets":{}},"uid":"u","nsp":"/"}'),
    (c.decode_request, b'{"uid":"\xff\xfe","requestId":"r","type":1}'),  # invalid UTF-8 in JSON
    (c.decode_broadcast, bytes.fromhex("93a3fffefd80") + b"\x80"),  # invalid UTF-8 in msgpack
    (c.decode_broadcast, "not bytes"),
    (c.decode_request, None),
    (c.decode_broadcast, bytes.fromhex("d70000")),  # truncated ext
    (c.unpack, bytes.fromhex("d7007fffffffffffffff")),  # legacy date far out of range
    (c.unpack, bytes.fromhex("c70cff000000007fffffffffffffff")),  # timestamp 96 too big
    (c.unpack, bytes.fromhex("c705ff0000000000")),  # timestamp of a wrong length
    (c.unpack, b"\x93\x01\x02"),  # truncated array
    (c.unpack, b"\x01\x02"),  # extra data
    (c.unpack, b""),
    (c.loads, b""),
    (c.loads, b'{"a":1'),
]


@pytest.mark.parametrize(
    ("decode", "payload"), REFUSED, ids=[f"{d.__name__}-{i}" for i, (d, _) in enumerate(REFUSED)]
)
def test_refused(decode: Decoder, payload: Any) -> None:
    with pytest.raises(c.ClusterMessageError):
        decode(payload)


@pytest.mark.parametrize(
    ("decode", "payload"), VECTORS[:12], ids=[f"{d.__name__}-{i}" for i in range(12) for d in [VECTORS[i][0]]]
)
def test_every_truncation_of_a_real_message(decode: Decoder, payload: bytes) -> None:
    for end in range(len(payload)):
        assert _refused_or_valid(decode, payload[:end])


def test_too_big_is_refused_before_parsing() -> None:
    payload = c.encode_broadcast("u", c.WirePacket("/", ["ev", "x" * 100]), c.WireOpts())
    for decode in (c.decode_broadcast, c.decode_request, c.decode_response, c.decode_cluster, c.unpack):
        with pytest.raises(c.ClusterMessageError, match="over the limit"):
            decode(payload, max_bytes=len(payload) - 1)
    assert c.decode_broadcast(payload, max_bytes=len(payload))[0] == "u"
    assert c.DEFAULT_MAX_MESSAGE_BYTES == 32 * 1024 * 1024


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_nesting_limit_is_the_same_both_ways() -> None:
    limit = 512
    assert c.unpack(c.pack(_nested(limit))) == _nested(limit)
    assert c.loads(c.dumps(_nested(limit))) == _nested(limit)
    with pytest.raises(TypeError):
        c.pack(_nested(limit + 1))
    with pytest.raises(TypeError):
        c.dumps(_nested(limit + 1))
    with pytest.raises(c.ClusterMessageError, match="nested deeper"):
        c.unpack(b"\x91" * (limit + 1) + b"\xc0")  # deeper than ours, within msgpack's own 1024
    with pytest.raises(c.ClusterMessageError):
        c.loads(b"[" * (limit + 1) + b"]" * (limit + 1))


@pytest.mark.parametrize("decode", DECODERS, ids=_ids)
def test_100k_levels_deep_is_refused_quickly(decode: Decoder) -> None:
    deep_msgpack = bytes.fromhex("93a1758384747970650284646174619282a26576") + b"\x91" * 100_000 + b"\xc0"
    deep_json = b'{"type":3,"data":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    start = time.perf_counter()
    for payload in (deep_msgpack, deep_json):
        assert _refused_or_valid(decode, payload)
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize(
    "header",
    ["dcffff", "ddffffffff", "dfffffffff", "deffff", "dbffffffff", "c6ffffffff", "c9ffffffff00", "c8ffff05"],
)
def test_huge_declared_lengths_cost_nothing(header: str) -> None:
    payload = bytes.fromhex(header) + b"\x00" * 64
    tracemalloc.start()
    try:
        for decode in DECODERS:
            assert _refused_or_valid(decode, payload)
            assert _refused_or_valid(decode, _bcast({"type": 2, "data": ["ev", 1]})[:-4] + payload)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


# -- encoders refuse what the wire cannot carry, with TypeError ------------------------------------


@pytest.mark.parametrize(
    "value",
    [2**64, -(2**63) - 1, object(), {1, 2}, "\ud800"],
    ids=["uint64+1", "int64-1", "object", "set", "lone surrogate"],
)
def test_pack_refuses_with_type_error(value: Any) -> None:
    with pytest.raises(TypeError):
        c.pack(["ev", value])


def test_naive_datetimes_are_refused() -> None:
    import datetime as dt

    naive = dt.datetime(2026, 12, 1)
    with pytest.raises(TypeError, match="naive"):
        c.pack(naive)
    with pytest.raises(TypeError, match="naive"):
        c.dumps({"at": naive})


def test_dumps_refuses_with_type_error() -> None:
    with pytest.raises(TypeError):
        c.dumps(object())
    assert orjson.loads(c.dumps(2**70)) == 2**70  # beyond 64 bits: the exact encoder writes it

"""notepack.io's decoding of ext types (legacy ext 0 forms, unknown ext), and bytes-like encoding."""

from __future__ import annotations

import datetime as dt

import pytest

from aiosio.protocol import cluster as c

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("wire", "value"),
    [
        ("d40000", None),  # notepack.io 2: undefined
        ("d700" + (1796114071434).to_bytes(8, "big").hex(), EPOCH + dt.timedelta(milliseconds=1796114071434)),
        ("d700" + (-1).to_bytes(8, "big", signed=True).hex(), EPOCH - dt.timedelta(milliseconds=1)),
        ("c70300616263", b"abc"),  # notepack.io 2: ArrayBuffer
        ("d40007", b"\x07"),  # a one-byte ArrayBuffer that is not 0
        ("d50501ff", [5, b"\x01\xff"]),  # unknown ext: [type, Buffer], as notepack.io returns it
        ("c701fe00", [-2, b"\x00"]),
        ("d6ff00000001", EPOCH + dt.timedelta(seconds=1)),  # timestamp 32
    ],
)
def test_ext_types_decode_as_notepack_decodes_them(wire: str, value: object) -> None:
    assert c.unpack(bytes.fromhex(wire)) == value


def test_bytes_like_values_pack_as_bin() -> None:
    for value in (b"\x01\x02", bytearray(b"\x01\x02"), memoryview(b"\x01\x02")):
        assert c.pack(value) == b"\xc4\x02\x01\x02"
        assert c.dumps([value]) == b'[{"type":"Buffer","data":[1,2]}]'
    assert c.has_binary({"a": [1, (2, bytearray(b""))]})
    assert not c.has_binary({"a": [1, "b", None, {"c": 1.5}]})


def test_integral_floats_become_ints_only_within_64_bits() -> None:
    assert c.pack(3.0) == c.pack(3)
    assert c.pack(-(2.0**63)) == c.pack(-(2**63))
    # notepack.io writes 2**64 as a garbage uint64 (cf 00...); Python keeps it a float64.
    assert c.pack(2.0**64) == bytes.fromhex("cb43f0000000000000")
    assert c.dumps({"n": 2.0}) == b'{"n":2}'
    assert c.dumps(1.5) == b"1.5"


def test_decoders_accept_bytearray_and_memoryview() -> None:
    payload = c.encode_broadcast("u", c.WirePacket("/", ["ev"]), c.WireOpts())
    for wrapped in (bytearray(payload), memoryview(payload)):
        assert c.decode_broadcast(wrapped)[0] == "u"
    assert c.loads(memoryview(b'{"a":1}')) == {"a": 1}


def test_a_date_travels_as_a_timestamp_in_msgpack_and_as_iso_text_in_json() -> None:
    when = dt.datetime(2026, 12, 1, 8, 34, 31, 434000, tzinfo=dt.UTC)
    alone = c.decode_cluster(c.encode_cluster(c.ClusterBroadcastAck("u", "/", "r", {"at": when})))
    assert alone == c.ClusterBroadcastAck("u", "/", "r", {"at": "2026-12-01T08:34:31.434Z"})
    with_bytes = c.ClusterBroadcastAck("u", "/", "r", {"at": when, "b": b""})
    assert c.decode_cluster(c.encode_cluster(with_bytes)) == with_bytes

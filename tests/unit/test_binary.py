"""Attachment placeholders of the default parser (binary.py)."""

from __future__ import annotations

import copy

import orjson
import pytest
from hypothesis import given

from aiosio.protocol.binary import deconstruct, has_binary, is_placeholder, reconstruct
from aiosio.protocol.errors import ParseError

from ._strategies import PROPERTY, json_values, json_values_with_binary, normalized


def ph(num):
    return {"_placeholder": True, "num": num}


# --- deconstruct -------------------------------------------------------------------------------------


def test_deconstruct_spec_example_with_two_buffers():
    data, buffers = deconstruct(["baz", b"\x01\x02", b"\x03\x04"])
    assert data == ["baz", ph(0), ph(1)]
    assert buffers == [b"\x01\x02", b"\x03\x04"]
    assert orjson.dumps(data) == b'["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'


def test_deconstruct_numbers_buffers_depth_first():
    data, buffers = deconstruct([{"a": b"0", "b": [b"1", {"c": b"2"}]}, b"3"])
    assert data == [{"a": ph(0), "b": [ph(1), {"c": ph(2)}]}, ph(3)]
    assert buffers == [b"0", b"1", b"2", b"3"]


def test_deconstruct_turns_bytes_like_values_into_bytes_and_tuples_into_lists():
    data, buffers = deconstruct((bytearray(b"a"), memoryview(b"b"), (1, 2)))
    assert data == [ph(0), ph(1), [1, 2]]
    assert buffers == [b"a", b"b"]
    assert all(type(b) is bytes for b in buffers)


def test_deconstruct_does_not_modify_its_input():
    original = ["x", {"k": b"1"}, [b"2"]]
    kept = copy.deepcopy(original)
    deconstruct(original)
    assert original == kept


def test_deconstruct_of_a_top_level_buffer():
    assert deconstruct(b"\x09") == (ph(0), [b"\x09"])


def test_has_binary():
    assert has_binary(["x", {"a": [1, (2, bytearray(b"z"))]}])
    assert not has_binary(["x", {"a": [1, (2, "z")]}, None, 1.5])
    assert has_binary(memoryview(b""))


def test_has_binary_on_deep_data_does_not_recurse():
    data: list = []
    node = data
    for _ in range(100_000):
        child: list = []
        node.append(child)
        node = child
    assert not has_binary(data)
    node.append(b"x")
    assert has_binary(data)


# --- reconstruct -------------------------------------------------------------------------------------


def test_reconstruct_puts_buffers_back_in_place():
    data = ["baz", ph(1), {"k": [ph(0)]}]
    assert reconstruct(data, [b"a", b"b"]) == ["baz", b"b", {"k": [b"a"]}]


def test_reconstruct_of_a_top_level_placeholder():
    assert reconstruct(ph(0), [b"a"]) == b"a"


def test_reconstruct_allows_a_buffer_to_be_referenced_twice():
    assert reconstruct([ph(0), ph(0)], [b"a"]) == [b"a", b"a"]


def test_reconstruct_leaves_data_without_placeholders_alone():
    data = {"a": [1, {"b": None}], "_placeholder": False}
    assert reconstruct(copy.deepcopy(data), [b"x"]) == data


def test_dict_whose_placeholder_flag_is_not_true_is_ordinary_data():
    # Only the exact value true marks a placeholder (as in socket.io-parser).
    for flag in (1, "true", None, False):
        data = [{"_placeholder": flag, "num": 0}]
        assert reconstruct(copy.deepcopy(data), [b"x"]) == data
        assert not is_placeholder(data[0])


def test_is_placeholder():
    assert is_placeholder(ph(0))
    assert is_placeholder({"_placeholder": True})  # shaped like one (and then refused by reconstruct)
    assert not is_placeholder([ph(0)])
    assert not is_placeholder("_placeholder")


@pytest.mark.parametrize("num", [-1, 1, 2, 2**64, -(2**64)])
def test_placeholder_num_out_of_range_is_refused(num):
    with pytest.raises(ParseError, match="placeholder"):
        reconstruct(["x", ph(num)], [b"only one"])


def test_placeholder_num_negative_is_refused_not_taken_from_the_end():
    # Python would happily index buffers[-1]; the decoder must not.
    with pytest.raises(ParseError):
        reconstruct([ph(-1)], [b"a", b"b"])


@pytest.mark.parametrize("num", [0.0, 1.5, "0", True, False, None, [0], {"n": 0}])
def test_placeholder_num_that_is_not_an_int_is_refused(num):
    with pytest.raises(ParseError):
        reconstruct(["x", ph(num)], [b"a", b"b"])


def test_placeholder_bool_num_is_refused_even_though_bool_is_an_int():
    assert isinstance(True, int)
    with pytest.raises(ParseError):
        reconstruct([ph(True)], [b"a", b"b"])


def test_placeholder_without_num_is_refused():
    with pytest.raises(ParseError):
        reconstruct([{"_placeholder": True}], [b"a"])


@pytest.mark.parametrize("extra", [{"x": 1}, {"__proto__": {}}, {"num2": 0}])
def test_placeholder_with_extra_keys_is_refused(extra):
    with pytest.raises(ParseError):
        reconstruct([{**ph(0), **extra}], [b"a"])


def test_invalid_top_level_placeholder_is_refused():
    with pytest.raises(ParseError):
        reconstruct(ph(3), [b"a"])


def test_reconstruct_of_deep_data_does_not_recurse():
    depth = 100_000
    data: list = []
    node = data
    for _ in range(depth):
        child: list = []
        node.append(child)
        node = child
    node.append({"k": ph(0)})
    result = reconstruct(data, [b"deep"])
    for _ in range(depth):
        result = result[0]
    assert result == [{"k": b"deep"}]


def test_reconstruct_finds_an_invalid_placeholder_deep_down():
    data: list = [ph(9)]
    for _ in range(50_000):
        data = [data]
    with pytest.raises(ParseError):
        reconstruct(data, [b"a"])


# --- properties --------------------------------------------------------------------------------------


@PROPERTY
@given(json_values_with_binary)
def test_deconstruct_then_reconstruct_round_trips(value):
    data, buffers = deconstruct(value)
    assert not has_binary(data)
    assert has_binary(value) == bool(buffers)
    # The placeholder form is plain JSON and survives a JSON round trip.
    wire = orjson.loads(orjson.dumps(data))
    assert reconstruct(wire, buffers) == normalized(value)


@PROPERTY
@given(json_values_with_binary)
def test_placeholders_are_numbered_in_order(value):
    data, buffers = deconstruct(value)
    nums: list[int] = []
    stack = [data]
    while stack:  # collect depth-first, in document order
        item = stack.pop()
        if is_placeholder(item):
            nums.append(item["num"])
        elif isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
    assert nums == list(range(len(buffers)))


@PROPERTY
@given(json_values)
def test_data_without_binary_is_unchanged_except_tuples(value):
    data, buffers = deconstruct(value)
    assert buffers == []
    assert data == normalized(value)
    assert not has_binary(value)

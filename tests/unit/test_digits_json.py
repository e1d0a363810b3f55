"""ASCII-only integer parsing (digits.py) and the strict JSON codec (jsoncodec.py)."""

from __future__ import annotations

import json as stdlib_json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiosio.protocol.digits import MAX_SAFE_INTEGER, parse_uint, scan_digits
from aiosio.protocol.errors import ParseError
from aiosio.protocol.jsoncodec import DEFAULT_JSON, JSONCodec

from ._strategies import FUZZ, PROPERTY, json_values, nested_lists

STDLIB_JSON = JSONCodec(stdlib_json)

# --- digits ------------------------------------------------------------------------------------------


def test_max_safe_integer_is_javascripts():
    assert MAX_SAFE_INTEGER == 9007199254740991


@pytest.mark.parametrize(
    ("text", "value"), [("0", 0), ("7", 7), ("123", 123), ("9007199254740991", 2**53 - 1)]
)
def test_parse_uint_accepts_ascii_digits(text, value):
    assert parse_uint(text, "ack id") == value


def test_parse_uint_accepts_leading_zeros_within_the_length_of_the_maximum():
    assert parse_uint("007", "ack id") == 7
    assert parse_uint("01", "attachment count", 10) == 1


@pytest.mark.parametrize(
    "text",
    [
        "\u0663",  # ARABIC-INDIC DIGIT THREE: str.isdigit() and int() accept it
        "1\u0663",
        "\uff11",  # FULLWIDTH DIGIT ONE
        "\u00b2",  # SUPERSCRIPT TWO: isdigit() is True, int() raises
        "\U0001d7d9",  # MATHEMATICAL DOUBLE-STRUCK DIGIT ONE
    ],
)
def test_parse_uint_refuses_non_ascii_digits(text):
    assert text.isdigit()
    with pytest.raises(ParseError):
        parse_uint(text, "ack id")


@pytest.mark.parametrize("text", ["", "-1", "+1", " 1", "1 ", "1_000", "0x1", "1.0", "1e3", "one"])
def test_parse_uint_refuses_anything_but_plain_digits(text):
    with pytest.raises(ParseError):
        parse_uint(text, "ack id")


def test_parse_uint_refuses_values_above_the_maximum():
    with pytest.raises(ParseError, match="out of range"):
        parse_uint("9007199254740992", "ack id")
    with pytest.raises(ParseError, match="out of range"):
        parse_uint("11", "attachment count", 10)


def test_parse_uint_refuses_more_digits_than_the_maximum_has_without_converting_them():
    with pytest.raises(ParseError, match="invalid ack id"):
        parse_uint("1" * 100_000, "ack id")
    with pytest.raises(ParseError):
        parse_uint("010", "attachment count", 10)


def test_parse_uint_error_names_the_field_and_truncates_the_input():
    with pytest.raises(ParseError) as info:
        parse_uint("x" * 1000, "attachment count")
    assert "attachment count" in str(info.value)
    assert len(str(info.value)) < 60


def test_scan_digits_stops_at_the_first_non_ascii_digit():
    assert scan_digits("12\u06633", 0) == 2
    assert scan_digits("ab123[", 2) == 5
    assert scan_digits("123", 0) == 3
    assert scan_digits("abc", 1) == 1
    assert scan_digits("12", 2) == 2


@FUZZ
@given(st.text(max_size=20), st.integers(min_value=0, max_value=2**64))
def test_parse_uint_returns_an_in_range_int_or_raises_parse_error(text, maximum):
    try:
        value = parse_uint(text, "n", maximum)
    except ParseError:
        is_plain = text.isascii() and text.isdigit() and len(text) <= len(str(maximum))
        assert not is_plain or int(text) > maximum
    else:
        assert text.isascii() and text.isdigit()
        assert value == int(text) <= maximum


@FUZZ
@given(st.text(max_size=20), st.integers(min_value=0, max_value=25))
def test_scan_digits_end_is_the_end_of_the_ascii_digit_run(text, start):
    start = min(start, len(text))
    end = scan_digits(text, start)
    assert start <= end <= len(text)
    assert all(c in "0123456789" for c in text[start:end])
    assert end == len(text) or text[end] not in "0123456789"


# --- JSON --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", [DEFAULT_JSON, STDLIB_JSON], ids=["orjson", "stdlib"])
def test_json_round_trips_compact_values(codec):
    value = {"token": "123", "n": [1, 2.5, None, True], "€": "\x1e"}
    assert codec.loads(codec.dumps(value)) == value


def test_orjson_dumps_is_compact_utf8():
    assert DEFAULT_JSON.dumps(["hello", 1, {"a": "€"}]) == '["hello",1,{"a":"€"}]'.encode()


def test_json_escapes_record_separator_so_it_cannot_split_a_polling_payload():
    # \x1e separates packets in a polling payload; JSON must carry it escaped.
    encoded = DEFAULT_JSON.dumps(["a\x1eb", {"k\x1e": 1}])
    assert b"\x1e" not in encoded
    assert b"\\u001e" in encoded
    assert b"\x1e" not in STDLIB_JSON.dumps(["a\x1eb"])


def test_json_dumps_accepts_non_string_keys():
    assert DEFAULT_JSON.dumps({1: "a"}) == b'{"1":"a"}'


@pytest.mark.parametrize("value", [b"x", bytearray(b"x"), memoryview(b"x"), object(), {1}])
def test_json_dumps_raises_type_error_for_values_json_cannot_carry(value):
    with pytest.raises(TypeError) as info:
        DEFAULT_JSON.dumps(["x", value])
    assert type(info.value) is TypeError  # not orjson's subclass: callers need no orjson import


@pytest.mark.parametrize(
    "text", ["NaN", "[NaN]", "Infinity", "[-Infinity]", '{"a":Infinity}', "1e400", "[-1e400]"]
)
def test_json_refuses_nan_and_infinity(text):
    with pytest.raises(ParseError):
        DEFAULT_JSON.loads(text)


def test_json_accepts_nesting_of_exactly_512_levels():
    assert DEFAULT_JSON.loads(nested_lists(512)) is not None


@pytest.mark.parametrize("depth", [513, 1024, 1025, 100_000])
def test_json_refuses_nesting_deeper_than_512_without_recursion_error(depth):
    with pytest.raises(ParseError):
        DEFAULT_JSON.loads(nested_lists(depth))
    with pytest.raises(ParseError):
        DEFAULT_JSON.loads('{"a":' * depth + "1" + "}" * depth)


def test_stdlib_json_codec_turns_recursion_error_into_parse_error():
    with pytest.raises(ParseError):
        STDLIB_JSON.loads(nested_lists(100_000))


@pytest.mark.parametrize("codec", [DEFAULT_JSON, STDLIB_JSON], ids=["orjson", "stdlib"])
def test_json_refuses_invalid_utf8_bytes(codec):
    with pytest.raises(ParseError):
        codec.loads(b'["\xff\xfe"]')


def test_orjson_refuses_a_lone_surrogate_in_str_input():
    with pytest.raises(ParseError):
        DEFAULT_JSON.loads('["\ud800"]')


@pytest.mark.parametrize("text", [r'["\ud800"]', r'["\udc00x"]', r'{"\ud83d":1}'])
def test_orjson_refuses_an_escaped_lone_surrogate(text):
    # Such a string could be decoded but never encoded again (it is not valid UTF-8).
    with pytest.raises(ParseError):
        DEFAULT_JSON.loads(text)


def test_orjson_accepts_an_escaped_surrogate_pair():
    assert DEFAULT_JSON.loads(r'["\ud83d\ude00"]') == ["\U0001f600"]


@pytest.mark.parametrize("codec", [DEFAULT_JSON, STDLIB_JSON], ids=["orjson", "stdlib"])
@pytest.mark.parametrize("text", ["", "[", '{"a"}', "[1,]", "'x'", '["x"]]', "undefined"])
def test_json_refuses_malformed_text(codec, text):
    with pytest.raises(ParseError):
        codec.loads(text)


def test_json_loads_accepts_memoryview():
    assert DEFAULT_JSON.loads(memoryview(b'{"a":1}')) == {"a": 1}
    assert STDLIB_JSON.loads(memoryview(b'{"a":1}')) == {"a": 1}


@FUZZ
@given(st.one_of(st.text(), st.binary(), st.text('[]{}",:0123456789.eE+-tfalsenuI\\u ')))
def test_json_loads_only_raises_parse_error(data):
    for codec in (DEFAULT_JSON, STDLIB_JSON):
        try:
            codec.loads(data)
        except ParseError:
            pass


@PROPERTY
@given(json_values)
def test_json_round_trip(value):
    expected = orjson.loads(orjson.dumps(value))  # tuples as lists
    assert DEFAULT_JSON.loads(DEFAULT_JSON.dumps(value)) == expected
    assert b"\x1e" not in DEFAULT_JSON.dumps(value)

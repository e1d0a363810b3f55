"""Hypothesis strategies and helpers shared by the protocol codec tests."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from aiosio.protocol.socketio import RESERVED_EVENTS

#: Settings for the property tests: enough examples to find edge cases, few enough that the unit
#: suite stays fast on a shared 2-core machine; no deadline, since timing there is noisy.
PROPERTY = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Any text a JSON or msgpack encoder can carry (lone surrogates cannot be UTF-8 encoded).
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)

#: Dict keys; ``_placeholder`` is left out so generated data never looks like an attachment placeholder.
keys = text.filter(lambda k: k != "_placeholder")

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
)

#: Binary values a sender may pass: every bytes-like type the encoders accept.
binary_values = st.one_of(
    st.binary(max_size=16),
    st.binary(max_size=16).map(bytearray),
    st.binary(max_size=16).map(memoryview),
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(keys, children, max_size=4),
    )


#: JSON-able values (tuples included: they encode as arrays).
json_values = st.recursive(json_scalars, _containers, max_leaves=20)

#: JSON-able values with bytes-like values at random places.
json_values_with_binary = st.recursive(st.one_of(json_scalars, binary_values), _containers, max_leaves=20)

event_names = text.filter(lambda name: name not in RESERVED_EVENTS)

#: ``/`` or a custom namespace. A namespace ends at the first comma, so it cannot hold one; it is
#: written raw (not JSON-escaped), so non-printable characters are refused (see test_socketio_codec).
namespaces = st.one_of(
    st.just("/"),
    st.text(st.characters(exclude_characters=","), max_size=10)
    .map(lambda name: "/" + name)
    .filter(str.isprintable),
)

ack_ids = st.integers(min_value=0, max_value=2**53 - 1)


def normalized(value: Any) -> Any:
    """What ``value`` looks like after a round trip: tuples as lists and bytes-like values as bytes."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (list, tuple)):
        return [normalized(v) for v in value]
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items()}
    return value


def nested_lists(depth: int, leaf: str = "") -> str:
    """JSON text of ``depth`` nested arrays around ``leaf`` (``[[...]]``)."""
    return "[" * depth + leaf + "]" * depth

"""Hypothesis strategies for the cluster wire: values, rooms, options, packets, sockets, messages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from aiosio.protocol import cluster as c

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
ints = st.integers(min_value=-(2**63), max_value=2**64 - 1)
#: Floats that survive as floats (an integral one is written as an integer, as JavaScript does).
floats = st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer())
scalars = st.one_of(st.none(), st.booleans(), ints, floats, text)
dates = st.datetimes(timezones=st.just(dt.UTC))


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.lists(children, max_size=4), st.dictionaries(text, children, max_size=4))


#: Values JSON carries exactly.
json_values = st.recursive(scalars, _containers, max_leaves=16)
#: Values msgpack carries exactly: bytes and dates too.
binary_values = st.recursive(st.one_of(scalars, st.binary(max_size=16), dates), _containers, max_leaves=16)
#: Values with binary but no dates: a sharded message goes as JSON when it has no bytes, and a date
#: then becomes its ISO text (as ``Date.toJSON`` makes it), so dates only round-trip within msgpack.
sharded_values = st.recursive(st.one_of(scalars, st.binary(max_size=16)), _containers, max_leaves=16)
#: Values a sender may hand in, that come back changed: tuples, bytearray/memoryview, integral floats.
messy_values = st.recursive(
    st.one_of(
        scalars,
        st.floats(allow_nan=False),
        st.binary(max_size=8).map(bytearray),
        st.binary(max_size=8).map(memoryview),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(tuple),
        st.lists(children, max_size=4),
        st.dictionaries(text, children, max_size=4),
    ),
    max_leaves=16,
)

rooms = st.one_of(text, ints)
room_sets = st.lists(rooms, unique=True, max_size=4).map(tuple)
flags = st.fixed_dictionaries(
    {},
    optional={
        "volatile": st.booleans(),
        "compress": st.booleans(),
        "timeout": st.integers(min_value=0, max_value=10**6),
        "expectSingleResponse": st.booleans(),
    },
)
opts = st.builds(c.WireOpts, room_sets, room_sets, flags)
#: Options of the classic requests, which carry no flags.
plain_opts = st.builds(c.WireOpts, room_sets, room_sets)
ack_ids = st.one_of(st.none(), st.integers(min_value=0, max_value=2**53 - 1))
uids = text
request_ids = text


def events(values: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    """``[event, *args]``."""
    return st.builds(lambda name, args: [name, *args], text, st.lists(values, max_size=4))


def packets(nsp: st.SearchStrategy[str], values: st.SearchStrategy[Any]) -> st.SearchStrategy[c.WirePacket]:
    """EVENT packets."""
    return st.builds(c.WirePacket, nsp, events(values), ack_ids)


def sockets(values: st.SearchStrategy[Any]) -> st.SearchStrategy[c.WireSocket]:
    """Fetched sockets."""
    return st.builds(c.WireSocket, text, st.dictionaries(text, json_values, max_size=4), room_sets, values)


classic_requests = st.one_of(
    st.builds(c.SocketsRequest, st.none() | uids, request_ids, room_sets),
    st.builds(c.AllRoomsRequest, st.none() | uids, request_ids),
    st.builds(c.RemoteJoinRequest, st.none() | uids, plain_opts, st.lists(rooms, max_size=3).map(tuple)),
    st.builds(c.RemoteLeaveRequest, st.none() | uids, plain_opts, st.lists(rooms, max_size=3).map(tuple)),
    st.builds(c.RemoteDisconnectRequest, st.none() | uids, plain_opts, st.booleans()),
    st.builds(c.LegacyRemoteJoinRequest, st.none() | uids, request_ids, text, rooms),
    st.builds(c.LegacyRemoteLeaveRequest, st.none() | uids, request_ids, text, rooms),
    st.builds(c.LegacyRemoteDisconnectRequest, st.none() | uids, request_ids, text, st.booleans()),
    st.builds(c.RemoteFetchRequest, st.none() | uids, request_ids, plain_opts),
    st.builds(c.ServerSideEmitRequest, st.none() | uids, events(json_values), st.none() | request_ids),
    st.builds(c.BroadcastRequest, st.none() | uids, request_ids, packets(text, binary_values), opts),
)

classic_responses = st.one_of(
    st.builds(c.SocketsResponse, request_ids, st.lists(text, min_size=1, max_size=4).map(tuple)),
    st.builds(c.AllRoomsResponse, request_ids, room_sets),
    st.builds(c.FetchResponse, request_ids, st.lists(sockets(json_values), max_size=3).map(tuple)),
    st.builds(c.ServerSideEmitResponse, request_ids, json_values),
    st.builds(c.LegacyResponse, request_ids),
    st.builds(c.ClientCountResponse, request_ids, st.integers(min_value=0, max_value=2**53 - 1)),
    st.builds(c.BroadcastAckResponse, request_ids, binary_values),
)


@st.composite
def cluster_messages(draw: st.DrawFn) -> c.ClusterMessage:
    """One message of any of the 13 types, its values JSON-able or with binary where Node allows."""
    uid, nsp = draw(uids), draw(text)
    rid = draw(request_ids)
    kind = draw(st.sampled_from(list(c.ClusterType)))
    values = sharded_values if draw(st.booleans()) else json_values
    room_list = draw(st.lists(rooms, max_size=3).map(tuple))
    match kind:
        case c.ClusterType.INITIAL_HEARTBEAT:
            return c.ClusterInitialHeartbeat(uid, nsp)
        case c.ClusterType.HEARTBEAT:
            return c.ClusterHeartbeat(uid, nsp)
        case c.ClusterType.ADAPTER_CLOSE:
            return c.ClusterAdapterClose(uid, nsp)
        case c.ClusterType.BROADCAST:
            packet = draw(packets(st.just(nsp), values))
            return c.ClusterBroadcast(uid, nsp, packet, draw(opts), draw(st.none() | request_ids))
        case c.ClusterType.SOCKETS_JOIN:
            return c.ClusterSocketsJoin(uid, nsp, draw(opts), room_list)
        case c.ClusterType.SOCKETS_LEAVE:
            return c.ClusterSocketsLeave(uid, nsp, draw(opts), room_list)
        case c.ClusterType.DISCONNECT_SOCKETS:
            return c.ClusterDisconnectSockets(uid, nsp, draw(opts), draw(st.booleans()))
        case c.ClusterType.FETCH_SOCKETS:
            return c.ClusterFetchSockets(uid, nsp, draw(opts), rid)
        case c.ClusterType.FETCH_SOCKETS_RESPONSE:
            found = draw(st.lists(sockets(values), max_size=3).map(tuple))
            return c.ClusterFetchSocketsResponse(uid, nsp, rid, found)
        case c.ClusterType.SERVER_SIDE_EMIT:
            return c.ClusterServerSideEmit(uid, nsp, draw(events(values)), draw(st.none() | request_ids))
        case c.ClusterType.SERVER_SIDE_EMIT_RESPONSE:
            return c.ClusterServerSideEmitResponse(uid, nsp, rid, draw(values))
        case c.ClusterType.BROADCAST_CLIENT_COUNT:
            count = draw(st.integers(min_value=0, max_value=2**53 - 1))
            return c.ClusterBroadcastClientCount(uid, nsp, rid, count)
    return c.ClusterBroadcastAck(uid, nsp, rid, draw(values))

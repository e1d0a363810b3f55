"""Protocol violations close the offending session and never reach a handler.

Each case is a sequence of Engine.IO messages sent after joining "/": strings go as text messages,
bytes as binary ones (over polling: one POST, binary parts as ``b`` + base64). Over polling the POST
gets 400 and the sid is dead afterwards; over WebSocket the server closes the socket. Either way the
disconnect handler sees reason "parse error", no event handler ran for that client, and a client
connected beforehand is untouched.
"""

from __future__ import annotations

import asyncio
import base64

import msgpack
import pytest

from .conftest import client_frame, read_until_eof

pytestmark = pytest.mark.timeout(15)

_PLACEHOLDER = '{"_placeholder":true,"num":%s}'

CASES: dict[str, list[str | bytes]] = {
    # Engine.IO level
    "garbage_text": ["hello world"],
    "control_characters": ["\x00\x01\x02"],
    "empty_packet": [""],
    "unknown_eio_type_7": ["7"],
    "unknown_eio_type_letter": ["x42"],
    "client_open_packet": ['0{"sid":"forged"}'],
    "client_upgrade_packet": ["5"],
    "client_ping": ["2"],
    # Socket.IO level
    "sio_garbage": ["4garbage"],
    "unknown_sio_type": ['47["echo"]'],
    "empty_event": ["42[]"],
    "event_name_number": ["42[1,2]"],
    "event_name_null": ['42[null,"x"]'],
    "event_not_a_list": ['42{"0":"echo"}'],
    "reserved_connect": ['42["connect"]'],
    "reserved_disconnect": ['42["disconnect","forged reason"]'],
    "reserved_connect_error": ['42["connect_error",{"message":"x"}]'],
    "reserved_disconnecting": ['42["disconnecting","forged reason"]'],
    "nan_in_json": ['42["echo",NaN]'],
    "infinity_in_json": ['42["echo",Infinity]'],
    "nesting_2000_deep": ['42["echo",' + "[" * 2000 + "]" * 2000 + "]"],
    "arabic_indic_digit_ack_id": ['42\u0663["echo"]'],
    "fullwidth_digit_ack_id": ['42\uff11\uff12["echo"]'],
    "ack_id_beyond_2_53": ['42123456789012345678["echo"]'],
    "attachment_count_11": ['4511-["echo",' + _PLACEHOLDER % 0 + "]"],
    "attachment_count_non_ascii": ['45\u0663-["echo",' + _PLACEHOLDER % 0 + "]"],
    "placeholder_num_negative": ['451-["echo",' + _PLACEHOLDER % -1 + "]", b"\x01"],
    "placeholder_num_string": ['451-["echo",' + _PLACEHOLDER % '"0"' + "]", b"\x01"],
    "placeholder_num_out_of_range": ['451-["echo",' + _PLACEHOLDER % 1 + "]", b"\x01"],
    "binary_for_unjoined_namespace": ['451-/admin,["echo",' + _PLACEHOLDER % 0 + "]", b"\x01"],
    "binary_without_pending_packet": [b"\x01\x02\x03"],
    "text_while_attachment_expected": ['451-["echo",' + _PLACEHOLDER % 0 + "]", '42["echo","x"]'],
    "connect_error_from_client": ['44{"message":"forged"}'],
    "disconnect_with_payload": ['41"forged"'],
    "ack_without_id": ['43["x"]'],
    "namespace_without_slash": ['42admin,["echo"]'],
    "valid_event_after_invalid_one": ["42[]", '42["echo","after"]'],
}


def _polling_body(messages: list[str | bytes]) -> bytes:
    parts = [b"b" + base64.b64encode(m) if isinstance(m, bytes) else m.encode() for m in messages]
    return b"\x1e".join(parts)


def _assert_rejected(h, sid: str) -> None:
    assert h.events_of(sid) == [], "a malformed packet reached a handler"
    assert h.connects.count(sid) == 1, "the connect handler ran again"
    assert h.reasons(sid) == ["parse error"]


@pytest.mark.parametrize("messages", list(CASES.values()), ids=list(CASES))
async def test_malformed_over_websocket_closes_the_socket(server, messages):
    bystander = await server.ws()
    client = await server.ws()
    for i, message in enumerate(messages):
        try:
            await client.send(message)
        except ConnectionError:
            assert i > 0, "the first message could not even be sent"
    _seen, code = await client.closed()
    assert code is not None
    await server.until(lambda: server.reasons(client.sid))
    _assert_rejected(server, client.sid)
    assert server.sio.eio.get(client.eio_sid) is None
    await server.assert_unharmed(bystander)


@pytest.mark.parametrize("messages", list(CASES.values()), ids=list(CASES))
async def test_malformed_over_polling_is_400_and_kills_the_sid(server, messages):
    bystander = await server.ws()
    client = await server.polling()
    status, body = await client.post(_polling_body(messages))
    assert status == 400, body
    await client.assert_dead()
    await server.until(lambda: server.reasons(client.sid))
    _assert_rejected(server, client.sid)
    await server.assert_unharmed(bystander)


async def test_invalid_utf8_polling_body_is_400(server):
    bystander = await server.ws()
    client = await server.polling()
    status, _ = await client.post(b'42["echo","\xff\xfe"]')
    assert status == 400
    await client.assert_dead()
    _assert_rejected(server, client.sid)
    await server.assert_unharmed(bystander)


async def test_invalid_base64_binary_part_is_400(server):
    bystander = await server.ws()
    client = await server.polling()
    status, _ = await client.post('451-["echo",{"_placeholder":true,"num":0}]\x1eb!!not base64!!')
    assert status == 400
    await client.assert_dead()
    _assert_rejected(server, client.sid)
    await server.assert_unharmed(bystander)


async def test_malformed_before_joining_a_namespace_closes_the_session(server):
    bystander = await server.ws()
    client = await server.ws(connect=False)
    await client.send('42["echo","x"')
    _seen, code = await client.closed()
    assert code is not None
    assert server.sio.eio.get(client.eio_sid) is None
    assert server.handled == []
    await server.assert_unharmed(bystander)


async def test_event_for_unjoined_namespace_is_ignored_not_handled(server):
    """Not a violation (Node ignores it too), but it must not run a "/" handler either."""
    client = await server.ws()
    await client.send('42/admin,["echo","x"]')
    await client.echo("after")
    assert server.events_of(client.sid) == [("echo", ("after",))]
    server.assert_no_tracebacks()


# -- below Engine.IO: broken WebSocket frames ---------------------------------------------------------

FRAMES: dict[str, bytes] = {
    "invalid_utf8_text": client_frame(b'42["echo","\xff\xfe"]'),
    "reserved_opcode": client_frame(b"42", opcode=0x3),
    "continuation_without_start": client_frame(b'42["echo"]', opcode=0x0),
    "oversized_control_frame": client_frame(b"x" * 200, opcode=0x9),
    "fragmented_control_frame": client_frame(b"x", opcode=0x9, fin=False),
    "rsv_bits_set": bytes((0xF1,)) + client_frame(b"42")[1:],
    "text_inside_fragmented_text": client_frame(b'42["ec', fin=False) + client_frame(b'ho"]'),
}


@pytest.mark.parametrize("frame", list(FRAMES.values()), ids=list(FRAMES))
async def test_broken_websocket_frame_closes_the_connection(server, frame):
    bystander = await server.ws()
    reader, writer = await server.raw_ws()
    await server.until(lambda: len(server.connects) == 2)
    sid = server.connects[1]
    writer.write(frame)
    await writer.drain()
    await read_until_eof(reader)
    await server.until(lambda: server.reasons(sid))
    assert server.events_of(sid) == []
    assert server.reasons(sid) == ["transport error"]
    await server.assert_unharmed(bystander)


async def test_fragments_adding_up_past_the_cap_close_with_1009(make_server):
    h = await make_server(max_http_buffer_size=10_000)
    bystander = await h.ws()
    reader, writer = await h.raw_ws()
    await h.until(lambda: len(h.connects) == 2)
    sid = h.connects[1]
    writer.write(client_frame(b'42["echo","' + b"a" * 4_000, fin=False))
    for _ in range(3):
        writer.write(client_frame(b"a" * 4_000, opcode=0x0, fin=False))
    writer.write(client_frame(b'"]', opcode=0x0))
    await writer.drain()
    data = await read_until_eof(reader)
    assert b"\x88\x02\x03\xf1" in data, "no close frame with code 1009"
    await h.until(lambda: h.reasons(sid))
    assert h.events_of(sid) == []
    await h.assert_unharmed(bystander)


async def test_unmasked_frame_is_accepted_as_aiohttp_does(server):
    """RFC 6455 says a server must close on an unmasked client frame; aiohttp does not check.

    Recorded so a change in aiohttp is noticed: harmless, since masking only protects proxies from
    browser pages, and a non-browser client can send anything anyway.
    """
    reader, writer = await server.raw_ws()
    await server.until(lambda: len(server.connects) == 1)
    writer.write(client_frame(b'421["echo","unmasked"]', masked=False))
    await writer.drain()
    data = b""
    async with asyncio.timeout(5):
        while b'431["unmasked"]' not in data:
            chunk = await reader.read(65536)
            assert chunk, "connection closed"
            data += chunk
    await server.assert_unharmed()


async def test_websocket_ping_frames_are_answered_and_harmless(server):
    reader, writer = await server.raw_ws()
    await server.until(lambda: len(server.connects) == 1)
    sid = server.connects[0]
    for _ in range(1_000):
        writer.write(client_frame(b"hi", opcode=0x9))
    writer.write(client_frame(b'421["echo","after pings"]'))
    await writer.drain()
    data = b""
    async with asyncio.timeout(5):
        while b'431["after pings"]' not in data:
            chunk = await reader.read(65536)
            assert chunk, "connection closed"
            data += chunk
    assert data.count(b"\x8a\x02hi") == 1_000  # one PONG frame per PING
    assert server.reasons(sid) == []
    await server.assert_unharmed()


# -- the msgpack parser ---------------------------------------------------------------------------------


def _mp(obj) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


MSGPACK_CASES: dict[str, str | bytes] = {
    "text_message": '42["echo","x"]',
    "never_used_byte": b"\xc1",
    "truncated_map": _mp({"type": 2, "nsp": "/", "data": ["echo", "x"]})[:-3],
    "trailing_bytes": _mp({"type": 2, "nsp": "/", "data": ["echo"]}) + b"\x00",
    "not_a_map": _mp([2, "/", ["echo"]]),
    "unknown_type": _mp({"type": 9, "nsp": "/", "data": ["echo"]}),
    "type_as_string": _mp({"type": "2", "nsp": "/", "data": ["echo"]}),
    "empty_event": _mp({"type": 2, "nsp": "/", "data": []}),
    "event_name_number": _mp({"type": 2, "nsp": "/", "data": [1]}),
    "reserved_disconnect": _mp({"type": 2, "nsp": "/", "data": ["disconnect", "forged"]}),
    "reserved_connect": _mp({"type": 2, "nsp": "/", "data": ["connect"]}),
    "negative_ack_id": _mp({"type": 2, "nsp": "/", "data": ["echo"], "id": -1}),
    "float_ack_id": _mp({"type": 2, "nsp": "/", "data": ["echo"], "id": 1.5}),
    "huge_ack_id": _mp({"type": 2, "nsp": "/", "data": ["echo"], "id": 2**60}),
    "extension_type": _mp({"type": 2, "nsp": "/", "data": ["echo", msgpack.ExtType(5, b"x")]}),
    "timestamp_extension": _mp({"type": 2, "nsp": "/", "data": ["echo", msgpack.Timestamp(1, 0)]}),
    "nesting_2000_deep": b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa4echo" + b"\x91" * 2000 + b"\xc0",
    "connect_error_from_client": _mp({"type": 4, "nsp": "/", "data": {"message": "forged"}}),
}


async def _msgpack_client(h):
    client = await h.ws(connect=False)
    await client.send(_mp({"type": 0, "nsp": "/"}))
    reply = msgpack.unpackb(await client.recv())
    assert reply["type"] == 0
    client.sid = reply["data"]["sid"]
    return client


async def _msgpack_echo(client, value: str) -> None:
    await client.send(_mp({"type": 2, "nsp": "/", "data": ["echo", value], "id": 7}))
    async with asyncio.timeout(5):
        while True:
            reply = await client.recv()
            if isinstance(reply, bytes) and msgpack.unpackb(reply).get("type") == 3:
                assert msgpack.unpackb(reply) == {"type": 3, "nsp": "/", "data": [value], "id": 7}
                return


@pytest.mark.parametrize("message", list(MSGPACK_CASES.values()), ids=list(MSGPACK_CASES))
async def test_malformed_msgpack_closes_the_socket(make_server, message):
    h = await make_server(serializer="msgpack")
    bystander = await _msgpack_client(h)
    client = await _msgpack_client(h)
    await client.send(message)
    _seen, code = await client.closed()
    assert code is not None
    await h.until(lambda: h.reasons(client.sid))
    _assert_rejected(h, client.sid)
    await _msgpack_echo(bystander, "still here")
    h.assert_no_tracebacks()

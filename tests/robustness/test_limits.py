"""Oversized payloads: the ``max_http_buffer_size`` cap holds for polling and WebSocket alike.

The cap is set to 100 kB here so each case moves little data. A POST over the cap gets 413 and kills
its session, whether it declares a Content-Length or streams chunks (so the cap must be enforced while
reading, not after); a WebSocket message over the cap closes the socket with 1009.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest

pytestmark = pytest.mark.timeout(20)

CAP = 100_000


def _event_of_size(size: int) -> bytes:
    """An ``echo`` EVENT message of exactly ``size`` bytes."""
    overhead = len(b'42["echo",""]')
    return b'42["echo","' + b"a" * (size - overhead) + b'"]'


def _post_head(h, url: str, extra: str) -> bytes:
    head = f"POST {url} HTTP/1.1\r\nHost: 127.0.0.1:{h.port}\r\nContent-Type: text/plain\r\n{extra}\r\n"
    return head.encode()


async def test_polling_post_over_cap_is_413_and_closes_session(make_server):
    h = await make_server(max_http_buffer_size=CAP)
    bystander = await h.ws()
    client = await h.polling()
    status, body = await client.post(_event_of_size(CAP + 1))
    assert status == 413, body
    assert orjson.loads(body)["code"] == 3
    await client.assert_dead()
    await h.until(lambda: h.reasons(client.sid))
    assert h.reasons(client.sid) == ["transport error"]
    assert h.events_of(client.sid) == []
    await h.assert_unharmed(bystander)


async def test_polling_post_exactly_at_cap_is_accepted(make_server):
    h = await make_server(max_http_buffer_size=CAP)
    client = await h.polling()
    assert await client.post(_event_of_size(CAP)) == (200, "ok")
    await h.until(lambda: h.events_of(client.sid))
    assert h.events_of(client.sid)[0][0] == "echo"
    h.assert_no_tracebacks()


async def test_chunked_post_over_cap_is_413(make_server):
    """aiohttp's client streams an async generator with chunked encoding and no Content-Length."""
    h = await make_server(max_http_buffer_size=CAP)
    bystander = await h.ws()
    client = await h.polling()

    async def body():
        yield b'42["echo","'
        for _ in range(40):
            yield b"a" * 10_000
        yield b'"]'

    status, text = await client.post(body())
    assert status == 413, text
    await client.assert_dead()
    assert h.reasons(client.sid) == ["transport error"]
    assert h.events_of(client.sid) == []
    await h.assert_unharmed(bystander)


async def test_endless_chunked_post_is_cut_off_while_reading(make_server):
    """A body that never ends still gets its 413: the server stops reading at the cap."""
    h = await make_server(max_http_buffer_size=CAP)
    bystander = await h.ws()
    client = await h.polling()
    reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
    writer.write(_post_head(h, client.url, "Transfer-Encoding: chunked\r\n"))
    chunk = b"%x\r\n%s\r\n" % (16_384, b"a" * 16_384)
    status_line = asyncio.ensure_future(reader.readline())
    sent = 0
    try:
        async with asyncio.timeout(10):
            while not status_line.done() and sent < 50_000_000:
                writer.write(chunk)
                sent += len(chunk)
                await writer.drain()
                await asyncio.sleep(0)
            line = await status_line
    except ConnectionError:
        line = await asyncio.wait_for(status_line, 5)
    finally:
        writer.close()
    assert line.startswith(b"HTTP/1.1 413"), line
    assert sent < 50_000_000, "the server read the whole endless body"
    await client.assert_dead()
    assert h.reasons(client.sid) == ["transport error"]
    await h.assert_unharmed(bystander)


async def test_huge_declared_content_length_with_tiny_body_is_413_at_once(make_server):
    h = await make_server(max_http_buffer_size=CAP)
    bystander = await h.ws()
    client = await h.polling()
    status, _ = await h.raw(_post_head(h, client.url, "Content-Length: 1000000000000\r\n") + b"40", timeout=2)
    assert status == 413
    await client.assert_dead()
    await h.assert_unharmed(bystander)


async def test_truncated_body_then_hangup_does_not_hurt_the_server(make_server):
    """Content-Length under the cap, a few bytes sent, then silence and a hang-up."""
    h = await make_server(max_http_buffer_size=CAP)
    bystander = await h.ws()
    client = await h.polling()
    _reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
    writer.write(_post_head(h, client.url, "Content-Length: 50000\r\n") + b'42["echo"')
    await writer.drain()
    await asyncio.sleep(0.2)
    # While that request waits for its body, everyone else is served.
    await bystander.echo("during")
    writer.close()
    # The POST's packets are lost with it, so the session ends (as in engine.io), quietly.
    await h.until(lambda: h.reasons(client.sid))
    assert h.reasons(client.sid) == ["transport error"]
    assert h.events_of(client.sid) == []
    await h.assert_unharmed(bystander)


async def test_broken_chunked_encoding_then_hangup_is_quiet(make_server):
    """A bad chunk size after the handler started reading, then a hang-up: no traceback.

    aiohttp neither fails the body stream on a bad chunk nor answers while the handler reads, so
    that POST waits until the client hangs up; the session then ends as a transport error. (Sent in
    one packet with the headers, aiohttp answers 400 itself before any handler runs, and logs that
    with a traceback on ``aiohttp.server``: not something the server can change.)
    """
    h = await make_server(max_http_buffer_size=CAP)
    bystander = await h.ws()
    client = await h.polling()
    _reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
    writer.write(_post_head(h, client.url, "Transfer-Encoding: chunked\r\n") + b"2\r\n40\r\n")
    await writer.drain()
    await asyncio.sleep(0.1)
    writer.write(b"zz\r\nxx\r\n")
    await writer.drain()
    await asyncio.sleep(0.1)
    writer.close()
    await h.until(lambda: h.reasons(client.sid) or h.sio.eio.get(client.eio_sid) is None)
    await client.assert_dead()
    assert h.events_of(client.sid) == []
    await h.assert_unharmed(bystander)


async def test_websocket_message_over_cap_closes_with_1009(make_server):
    h = await make_server(max_http_buffer_size=CAP)
    bystander = await h.ws()
    client = await h.ws()
    await client.send(_event_of_size(CAP + 1).decode())
    _seen, code = await client.closed()
    assert code == 1009
    await h.until(lambda: h.reasons(client.sid))
    assert h.reasons(client.sid) == ["transport error"]
    assert h.events_of(client.sid) == []
    await h.assert_unharmed(bystander)


async def test_websocket_binary_message_over_cap_closes_with_1009(make_server):
    h = await make_server(max_http_buffer_size=CAP)
    bystander = await h.ws()
    client = await h.ws()
    await client.send('451-["echo",{"_placeholder":true,"num":0}]')
    await client.send(b"\x00" * (CAP + 1))
    _seen, code = await client.closed()
    assert code == 1009
    await h.until(lambda: h.reasons(client.sid))
    assert h.events_of(client.sid) == []
    await h.assert_unharmed(bystander)


async def test_websocket_message_exactly_at_cap_is_accepted(make_server):
    h = await make_server(max_http_buffer_size=CAP)
    client = await h.ws()
    await client.send(_event_of_size(CAP).decode())
    await h.until(lambda: h.events_of(client.sid))
    await client.echo("after")
    h.assert_no_tracebacks()


async def test_max_payload_is_announced(make_server):
    h = await make_server(max_http_buffer_size=CAP)
    client = await h.polling(connect=False)
    assert client.open["maxPayload"] == CAP


async def test_stalled_post_body_is_answered_not_held(make_server):
    """A POST whose body stops arriving is answered (and the session closed) within the heartbeat window."""
    server = await make_server(ping_interval=0.2, ping_timeout=0.2)
    client = await server.polling()
    head = (
        f"POST /socket.io/?EIO=4&transport=polling&sid={client.eio_sid} HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nContent-Length: 100\r\n\r\n42"
    ).encode()
    status, _body = await server.raw(head, timeout=3)
    assert status == 400
    assert server.sio.eio.get(client.eio_sid) is None
    server.assert_no_tracebacks()

"""Every HTTP request gets an answer, with Engine.IO's JSON error body where it is an error.

Error codes: 0 unknown transport, 1 unknown sid, 2 bad handshake method, 3 bad request, 5 unsupported
protocol version. A bad request never harms another session.
"""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
import pytest

pytestmark = pytest.mark.timeout(15)


def _code(body: str) -> int:
    return int(orjson.loads(body)["code"])


@pytest.mark.parametrize(
    "content_type",
    ["application/octet-stream", "image/png", "application/json", "text/html; charset=latin-1", "x"],
)
async def test_post_with_wrong_content_type_is_still_answered(server, content_type):
    bystander = await server.ws()
    client = await server.polling(connect=False)
    assert await client.post(b"40", headers={"Content-Type": content_type}) == (200, "ok")
    packets = await client.packets()
    assert packets[0].startswith("40{")
    await server.assert_unharmed(bystander)


async def test_post_without_content_type_is_still_answered(server):
    bystander = await server.ws()
    client = await server.polling(connect=False)
    status, body = await client.post(b"40", skip_auto_headers=["Content-Type"])
    assert (status, body) == (200, "ok")
    assert (await client.packets())[0].startswith("40{")
    await server.assert_unharmed(bystander)


async def test_post_with_empty_body_is_400(server):
    bystander = await server.ws()
    client = await server.polling()
    status, _ = await client.post(b"")
    assert status == 400
    await client.assert_dead()
    await server.assert_unharmed(bystander)


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_unknown_sid_is_400_code_1(server, method):
    bystander = await server.ws()
    status, body = await server.request(method, server.url("transport=polling&sid=nope"), data=b"40")
    assert status == 400
    assert orjson.loads(body) == {"code": 1, "message": "Session ID unknown"}
    await server.assert_unharmed(bystander)


async def test_websocket_upgrade_with_unknown_sid_is_400(server):
    bystander = await server.ws()
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await server.http.ws_connect(server.url("transport=websocket&sid=nope"))
    assert info.value.status == 400
    await server.assert_unharmed(bystander)


@pytest.mark.parametrize(
    "query",
    [
        "EIO=3&transport=polling",
        "EIO=5&transport=polling",
        "transport=polling",
        "EIO=&transport=polling",
        "EIO=4.0&transport=polling",
        "EIO=%D9%A4&transport=polling",  # an Arabic-Indic digit four
    ],
)
async def test_bad_eio_version_is_400_code_5(server, query):
    bystander = await server.ws()
    status, body = await server.request("GET", f"/socket.io/?{query}")
    assert status == 400
    assert _code(body) == 5
    assert server.sio.eio.sockets.keys() == {bystander.eio_sid}
    await server.assert_unharmed(bystander)


@pytest.mark.parametrize("transport", ["flashsocket", "WEBSOCKET", "polling%20", "", None])
async def test_unknown_transport_is_400_code_0(server, transport):
    bystander = await server.ws()
    query = "" if transport is None else f"&transport={transport}"
    status, body = await server.request("GET", f"/socket.io/?EIO=4{query}")
    assert status == 400
    assert _code(body) == 0
    await server.assert_unharmed(bystander)


async def test_disabled_transport_is_400_code_0(make_server):
    h = await make_server(transports=["websocket"])
    bystander = await h.ws()
    status, body = await h.request("GET", h.url("transport=polling"))
    assert status == 400
    assert _code(body) == 0
    await h.assert_unharmed(bystander)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("with_sid", [False, True], ids=["handshake", "session"])
async def test_other_methods_are_400(server, method, with_sid):
    bystander = await server.ws()
    client = await server.polling()
    query = f"transport=polling&sid={client.eio_sid}" if with_sid else "transport=polling"
    status, body = await server.request(method, server.url(query), data=b"40")
    assert status == 400
    assert _code(body) == 2
    if with_sid:  # a stray request does not cost the session anything
        assert await client.post('42["echo","x"]') == (200, "ok")
        await server.until(lambda: server.events_of(client.sid))
    await server.assert_unharmed(bystander)


async def test_post_handshake_is_400_code_2(server):
    status, body = await server.request("POST", server.url("transport=polling"), data=b"40")
    assert status == 400
    assert _code(body) == 2
    assert server.sio.eio.sockets == {}
    server.assert_no_tracebacks()


async def test_options_preflight_without_origin_is_answered(server):
    status, _headers, _ = await server.request_full("OPTIONS", server.url("transport=polling"))
    assert status in (200, 204)
    server.assert_no_tracebacks()


async def test_options_preflight_from_allowed_origin_gets_cors_headers(make_server):
    h = await make_server(cors_allowed_origins="https://app.example")
    status, headers, _ = await h.request_full(
        "OPTIONS",
        h.url("transport=polling"),
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert status in (200, 204)
    assert headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert headers["Access-Control-Allow-Headers"] == "content-type"
    h.assert_no_tracebacks()


async def test_websocket_transport_without_upgrade_is_400_code_3(server):
    bystander = await server.ws()
    status, body = await server.request("GET", server.url("transport=websocket"))
    assert status == 400
    assert _code(body) == 3
    await server.assert_unharmed(bystander)


async def test_polling_request_for_a_websocket_session_is_400(server):
    bystander = await server.ws()
    status, body = await server.request("GET", server.url(f"transport=polling&sid={bystander.eio_sid}"))
    assert status == 400
    assert _code(body) == 3
    await server.assert_unharmed(bystander)


async def test_overlapping_gets_are_answered_and_close_the_session(server):
    """A second GET while one waits: the waiting one gets CLOSE, the second 400, the sid dies."""
    bystander = await server.ws()
    client = await server.polling()
    first = asyncio.ensure_future(client.get())
    await server.until(lambda: server.sio.eio.get(client.eio_sid)._poll is not None)
    status, _ = await client.get()
    assert status == 400
    status, body = await first
    assert (status, body) == (200, "1")
    await client.assert_dead()
    assert server.reasons(client.sid) == ["transport error"]
    await server.assert_unharmed(bystander)


async def test_unknown_path_below_the_route_is_404_not_an_error(server):
    status, _ = await server.request("GET", "/socket.io/extra?EIO=4&transport=polling")
    assert status == 404
    server.assert_no_tracebacks()


async def test_get_abandoned_while_waiting_does_not_lose_packets_silently(server):
    """A GET whose connection dies while it waits: what it would have carried must not vanish.

    Either the packet still reaches the client on its next GET, or the session ends (as engine.io
    does for a poll closed prematurely) so that the client knows to reconnect.
    """
    bystander = await server.ws()
    client = await server.polling()
    _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(f"GET {client.url} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
    await writer.drain()
    await server.until(lambda: server.sio.eio.get(client.eio_sid)._poll is not None)
    writer.close()
    await asyncio.sleep(0.1)
    await server.sio.emit("x", "must not vanish", to=client.sid)
    status, body = await client.get(timeout=2)
    if status == 200:
        assert '42["x","must not vanish"]' in body.split("\x1e"), body
    else:
        assert (status, _code(body)) == (400, 1)
        assert server.reasons(client.sid) == ["transport error"]
    await server.assert_unharmed(bystander)

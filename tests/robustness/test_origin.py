"""The Origin check guards polling and WebSocket alike (browsers apply no CORS to WebSocket).

By default only the server's own origin (or no Origin header) is accepted; ``'*'`` accepts any; a
list accepts its members. An Origin holding control characters is never accepted.
"""

from __future__ import annotations

import aiohttp
import orjson
import pytest

pytestmark = pytest.mark.timeout(15)

FOREIGN = "https://evil.example"


async def test_foreign_origin_refused_on_polling_handshake(server):
    bystander = await server.ws()
    status, body = await server.request("GET", server.url(), headers={"Origin": FOREIGN})
    assert status == 403
    assert orjson.loads(body)["code"] == 4
    assert server.sio.eio.sockets.keys() == {bystander.eio_sid}
    await server.assert_unharmed(bystander)


async def test_foreign_origin_refused_on_polling_post_to_existing_session(server):
    """A page on another site that learned a sid still cannot post to it."""
    bystander = await server.ws()
    client = await server.polling()
    status, _ = await client.post('42["echo","forged"]', headers={"Origin": FOREIGN})
    assert status == 403
    assert server.events_of(client.sid) == []
    await server.assert_unharmed(bystander)


async def test_foreign_origin_refused_on_websocket_handshake(server):
    bystander = await server.ws()
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await server.http.ws_connect(server.url("transport=websocket"), headers={"Origin": FOREIGN})
    assert info.value.status == 403
    assert server.sio.eio.sockets.keys() == {bystander.eio_sid}
    await server.assert_unharmed(bystander)


async def test_foreign_origin_refused_on_websocket_upgrade_of_polling_session(server):
    bystander = await server.ws()
    client = await server.polling()
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await server.http.ws_connect(
            server.url(f"transport=websocket&sid={client.eio_sid}"), headers={"Origin": FOREIGN}
        )
    assert info.value.status == 403
    session = server.sio.eio.get(client.eio_sid)
    assert session is not None and session.transport == "polling" and not session.upgrading
    await server.assert_unharmed(bystander)


async def test_own_origin_accepted_by_default(server):
    client = await server.ws(headers={"Origin": server.origin})
    await client.echo()
    status, body = await server.request("GET", server.url(), headers={"Origin": server.origin})
    assert status == 200 and body.startswith("0{")
    server.assert_no_tracebacks()


async def test_star_accepts_foreign_origin_on_polling_and_websocket(make_server):
    h = await make_server(cors_allowed_origins="*")
    status, headers, body = await h.request_full("GET", h.url(), headers={"Origin": FOREIGN})
    assert status == 200 and body.startswith(b"0{")
    assert headers["Access-Control-Allow-Origin"] == FOREIGN
    client = await h.ws(headers={"Origin": FOREIGN})
    await client.echo()
    h.assert_no_tracebacks()


async def test_origin_list_accepts_members_only(make_server):
    h = await make_server(cors_allowed_origins=["https://a.example", "https://b.example"])
    client = await h.ws(headers={"Origin": "https://b.example"})
    await client.echo()
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await h.http.ws_connect(h.url("transport=websocket"), headers={"Origin": "https://a.example.evil"})
    assert info.value.status == 403
    status, _ = await h.request("GET", h.url(), headers={"Origin": "https://c.example"})
    assert status == 403
    await h.assert_unharmed(client)


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_origin_with_tab_is_refused_even_with_star(make_server, transport):
    """HTAB gets past aiohttp's header parser, so this is the server's own check."""
    h = await make_server(cors_allowed_origins="*")
    bystander = await h.ws()
    extra = (
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        if transport == "websocket"
        else ""
    )
    request = (
        f"GET {h.url(f'transport={transport}')} HTTP/1.1\r\nHost: 127.0.0.1:{h.port}\r\n"
        f"Origin: https://a\tb.example\r\n{extra}\r\n"
    ).encode()
    status, _ = await h.raw(request)
    assert status == 403
    assert h.sio.eio.sockets.keys() == {bystander.eio_sid}
    await h.assert_unharmed(bystander)


@pytest.mark.parametrize("char", ["\x01", "\x1b", "\x7f"], ids=["SOH", "ESC", "DEL"])
@pytest.mark.allow_server_errors(r"^aiohttp\.server ERROR: Error handling request .*\[BadHttpMessage: 400")
async def test_origin_with_control_character_is_refused(make_server, char):
    """aiohttp's parser refuses these before the server sees them (and logs that itself)."""
    h = await make_server(cors_allowed_origins="*")
    bystander = await h.ws()
    request = (
        f"GET {h.url()} HTTP/1.1\r\nHost: 127.0.0.1:{h.port}\r\nOrigin: https://a{char}b.example\r\n\r\n"
    ).encode()
    status, _ = await h.raw(request)
    assert status in (400, 403)
    assert h.sio.eio.sockets.keys() == {bystander.eio_sid}
    await h.assert_unharmed(bystander)


async def test_callable_origin_policy_is_consulted(make_server):
    seen = []

    def allow(origin):
        seen.append(origin)
        return origin.endswith(".trusted.example")

    h = await make_server(cors_allowed_origins=allow)
    client = await h.ws(headers={"Origin": "https://x.trusted.example"})
    await client.echo()
    status, _ = await h.request("GET", h.url(), headers={"Origin": FOREIGN})
    assert status == 403
    assert FOREIGN in seen
    await h.assert_unharmed(client)

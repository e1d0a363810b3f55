"""What the Admin UI is told about a socket: Node's ``serialize(socket)`` shape, and its dates.

A socket record is ``{id, clientId, transport, nsp, data, handshake, rooms}``: ``clientId`` is
the Engine.IO session id of its connection, ``data`` its user session (Node's ``socket.data``;
``{}`` when it has none or it cannot be sent as JSON: whatever the app keeps there is shown) and
``handshake`` Node's ``socket.handshake`` without ``auth`` (Node leaves it out too) and with the
values of the :data:`REDACTED_HEADERS` replaced by ``"[redacted]"`` (Node shows them). The rest
of the handshake is shown as the client sent it, its query string included.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

import orjson


def iso_now() -> str:
    """Now as JavaScript's ``new Date().toJSON()``: ``2026-12-01T16:20:00.123Z``."""
    return iso_date(_dt.datetime.now(_dt.UTC))


def iso_date(moment: _dt.datetime) -> str:
    """A UTC datetime as JavaScript's ``Date.toJSON()`` writes it (milliseconds, ``Z``)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def plain_data(data: Any) -> dict[str, Any]:
    """A socket's user session as the UI may be sent it: a JSON object, else ``{}``.

    ``_admin`` (where Node's admin-ui keeps its own bookkeeping in ``socket.data``) is left out.
    """
    if not isinstance(data, dict) or not data:
        return {}
    if "_admin" in data:
        data = {key: value for key, value in data.items() if key != "_admin"}
    try:
        orjson.dumps(data)
    except TypeError:
        return {}
    return dict(data)


#: Request headers whose values a socket record never shows (credentials and session cookies).
REDACTED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def public_handshake(handshake: Mapping[str, Any]) -> dict[str, Any]:
    """Node's handshake without ``auth`` and without the values of :data:`REDACTED_HEADERS`;
    ``address`` prefers the proxy headers, as Node's admin-ui."""
    out = {key: value for key, value in handshake.items() if key != "auth"}
    headers = out.get("headers")
    if isinstance(headers, Mapping):
        forwarded = headers.get("cf-connecting-ip") or headers.get("x-forwarded-for")
        if forwarded:
            out["address"] = forwarded
        if any(isinstance(name, str) and name.lower() in REDACTED_HEADERS for name in headers):
            out["headers"] = {
                name: "[redacted]" if isinstance(name, str) and name.lower() in REDACTED_HEADERS else value
                for name, value in headers.items()
            }
    return out


def socket_record(
    sid: str,
    namespace: str,
    client_id: str,
    transport: str,
    data: Any,
    handshake: Mapping[str, Any],
    rooms: list[str],
) -> dict[str, Any]:
    """One socket as ``all_sockets`` and ``socket_connected`` carry it."""
    return {
        "id": sid,
        "clientId": client_id,
        "transport": transport,
        "nsp": namespace,
        "data": plain_data(data),
        "handshake": public_handshake(handshake),
        "rooms": rooms,
    }


def with_admin_entry(data: Any, client_id: str, transport: str) -> dict[str, Any]:
    """A socket's data as an instrumented server's fetch answer carries it to the other nodes:
    with Node admin-ui's ``_admin: {clientId, transport}`` added (a copy; the session itself is
    never changed), so the admins of every server, Node's or aiosio's, can list the socket."""
    out = dict(data) if isinstance(data, dict) else {}
    out["_admin"] = {"clientId": client_id, "transport": transport}
    return out


def node_admin_fields(data: Any) -> tuple[str, str]:
    """``(clientId, transport)`` from the ``_admin`` entry an instrumented server (Node's
    admin-ui, or aiosio's :func:`with_admin_entry`) puts in the data of a socket fetched across a
    cluster, or ``("", "")``."""
    if isinstance(data, dict):
        admin = data.get("_admin")
        if isinstance(admin, dict):
            client_id = admin.get("clientId")
            transport = admin.get("transport")
            return (
                client_id if isinstance(client_id, str) else "",
                transport if isinstance(transport, str) else "",
            )
    return ("", "")

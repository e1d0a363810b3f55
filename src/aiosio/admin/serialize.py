"""What the Admin UI is told about a socket: Node's ``serialize(socket)`` shape, and its dates.

A socket record is ``{id, clientId, transport, nsp, data, handshake, rooms}``: ``clientId`` is
the Engine.IO session id of its connection, ``data`` its user session (Node's ``socket.data``;
``{}`` when it has none or it cannot be sent as JSON) and ``handshake`` Node's
``socket.handshake`` without ``auth`` (which may hold a client's secrets; Node leaves it out too).
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


def public_handshake(handshake: Mapping[str, Any]) -> dict[str, Any]:
    """Node's handshake without ``auth``; ``address`` prefers the proxy headers, as Node's admin-ui."""
    out = {key: value for key, value in handshake.items() if key != "auth"}
    headers = out.get("headers")
    if isinstance(headers, Mapping):
        forwarded = headers.get("cf-connecting-ip") or headers.get("x-forwarded-for")
        if forwarded:
            out["address"] = forwarded
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


def node_admin_fields(data: Any) -> tuple[str, str]:
    """``(clientId, transport)`` from the ``_admin`` entry a Node server instrumented with
    admin-ui keeps in ``socket.data`` (how a Node socket fetched across a cluster says them), or
    ``("", "")``."""
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

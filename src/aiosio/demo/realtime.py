"""The demo's Socket.IO side: the chat, the todo change feed and the live prices.

Events a page (or ``aiosio client``) can send, each answered through its acknowledgement:

``sync``
    no arguments -> ``{"you": id, "rooms": [...], "todos": [...]}``; pages call it on every
    (re)connect so they never show a stale list.
``join``
    ``{"name": str, "room": str}`` -> ``{"ok": true, "name", "room", "users", "history"}``; enters
    a chat room (leaving the previous one) or renames the user.
``message``
    the tutorial's event: a plain string, or ``{"text": str, "name"?: str, "room"?: str}``. The
    server logs the socket id and the message as the tutorial does and relays it to the room.
``join_prices`` / ``leave_prices``
    no arguments -> ``{"ok": true, "room": "prices", ...}``; enter or leave the ``prices`` room
    (the join's ack carries the current prices, see :mod:`.ticker`).

Events the server sends: ``message`` (``{"id", "room", "name", "text", "ts", "from"}``),
``presence`` (``{"room", "users": [{"id", "name"}]}``) to a room whenever its members change,
``todo_added`` / ``todo_updated`` (a todo) and ``todo_deleted`` (``{"id"}``) to everyone, ``tick``
to the ``prices`` room and ``stats`` to everyone (see :mod:`.ticker`).

Everything a client sends is validated here (types, lengths, room names, a message rate limit):
the browser is never trusted. Clients are identified to each other by a random public id, never
by their socket id (which the transport uses as a credential).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiosio

from .store import TodoStore
from .ticker import PriceTicker

__all__ = [
    "MAX_CHAT_NAME_LENGTH",
    "MAX_MESSAGE_LENGTH",
    "ROOMS",
    "Realtime",
]

logger = logging.getLogger("aiosio.demo")

#: The chat rooms a page can choose from.
ROOMS = ("general", "random", "help")
MAX_CHAT_NAME_LENGTH = 32
MAX_MESSAGE_LENGTH = 500
#: Messages kept per room and sent to whoever joins, so a reload or reconnect keeps context.
HISTORY_LENGTH = 50
# At most RATE_LIMIT messages per RATE_WINDOW seconds per connection.
RATE_LIMIT = 10
RATE_WINDOW = 5.0


class _Invalid(ValueError):
    """A client sent something unacceptable; the message goes back in the ack."""


@dataclass
class _Client:
    public_id: str
    name: str | None = None
    room: str | None = None
    sent: deque[float] = field(default_factory=lambda: deque(maxlen=RATE_LIMIT))


def _clean_text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"{what} must be a string")
    text = value.strip()
    if not text:
        raise _Invalid(f"{what} must not be empty")
    if len(text) > limit:
        raise _Invalid(f"{what} must be at most {limit} characters")
    # Single-line text only: control characters (newlines included) would let a message forge
    # extra lines in the server log and break the page's layout.
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text):
        raise _Invalid(f"{what} must not contain control characters")
    return text


def _clean_room(value: Any) -> str:
    if value not in ROOMS:
        raise _Invalid("room must be one of: " + ", ".join(ROOMS))
    return str(value)


def _error(exc: Exception) -> dict[str, Any]:
    return {"ok": False, "error": str(exc)}


class Realtime:
    """The demo's Socket.IO event handlers and the state they share (who is where).

    State lives in this process's memory: the demo is a single process, and a restart simply
    starts with empty rooms, which every page re-joins on reconnect.
    """

    def __init__(self, sio: aiosio.AsyncServer, store: TodoStore, ticker: PriceTicker | None = None) -> None:
        """Handle events of ``sio`` (call :meth:`register`), read todos from ``store``, and let
        clients watch ``ticker`` (default: a new :class:`~.ticker.PriceTicker`, not started)."""
        self.sio = sio
        self.store = store
        self.ticker = ticker if ticker is not None else PriceTicker(sio)
        self._clients: dict[str, _Client] = {}
        self._history: dict[str, deque[dict[str, Any]]] = {
            room: deque(maxlen=HISTORY_LENGTH) for room in ROOMS
        }
        # Message ids are unique across the servers of a cluster (--workers): each process counts
        # from its own random base (pages drop a message whose id they have shown already).
        self._message_ids = itertools.count(1 + (secrets.randbits(24) << 24))

    def register(self) -> None:
        """Install the handlers on the server."""
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("sync", self._on_sync)
        self.sio.on("join", self._on_join)
        self.sio.on("message", self._on_message)
        self.sio.on("join_prices", self._on_join_prices)
        self.sio.on("leave_prices", self._on_leave_prices)

    # -- todo change feed --------------------------------------------------------------------

    async def todo_changed(self, event: str, payload: Any) -> None:
        """Push a todo change (``todo_added``, ``todo_updated``, ``todo_deleted``) to every page."""
        await self.sio.emit(event, payload)

    # -- lifecycle --------------------------------------------------------------------------

    async def close(self) -> None:
        """Shut the Socket.IO server down: every page sees its connection close and reconnects.

        Runs in the application's shutdown phase, while the web server still holds the
        connections, so clients get a clean close rather than a dropped TCP connection.
        (``attach()`` registers the same call; ``shutdown()`` may safely run twice.)
        """
        await self.sio.shutdown()

    # -- handlers ---------------------------------------------------------------------------

    async def _on_connect(self, sid: str, environ: Any, auth: Any = None) -> None:
        if self.sio.recovered(sid):
            # Connection-state recovery: the same sid, its rooms and its session (where its
            # identity is kept, see _remember) are back; the missed events were replayed.
            saved = await self.sio.get_session(sid) or {}
            client = _Client(
                public_id=str(saved.get("public_id") or secrets.token_hex(4)),
                name=saved.get("name"),
                room=saved.get("room"),
            )
            self._clients[sid] = client
            self.ticker.connected(sid)
            logger.info("recovered: %s", sid)
            if client.room is not None:
                await self._send_presence(client.room)
            return
        client = self._clients[sid] = _Client(public_id=secrets.token_hex(4))
        await self._remember(sid, client)
        self.ticker.connected(sid)
        logger.info("connected: %s", sid)

    async def _remember(self, sid: str, client: _Client) -> None:
        """Keep who ``sid`` is in its session, which connection-state recovery restores."""
        await self.sio.save_session(
            sid, {"public_id": client.public_id, "name": client.name, "room": client.room}
        )

    async def _on_disconnect(self, sid: str, *reason: Any) -> None:
        client = self._clients.pop(sid, None)
        self.ticker.disconnected(sid)
        logger.info("disconnected: %s", sid)
        if client is not None and client.room is not None:
            await self._send_presence(client.room)

    async def _on_sync(self, sid: str, *args: Any) -> dict[str, Any]:
        client = self._clients.get(sid)
        todos = await asyncio.to_thread(self.store.list_todos)
        return {
            "you": client.public_id if client else None,
            "rooms": list(ROOMS),
            "todos": todos,
        }

    async def _on_join(self, sid: str, *args: Any) -> dict[str, Any]:
        client = self._clients.get(sid)
        if client is None:
            return {"ok": False, "error": "not connected"}
        try:
            data = args[0] if len(args) == 1 else None
            if not isinstance(data, dict) or set(data) - {"name", "room"}:
                raise _Invalid("join takes one object: {name, room}")
            name = _clean_text(data.get("name"), "name", MAX_CHAT_NAME_LENGTH)
            room = _clean_room(data.get("room"))
        except _Invalid as exc:
            return _error(exc)
        await self._join(sid, client, name, room)
        return {
            "ok": True,
            "you": client.public_id,
            "name": name,
            "room": room,
            "users": self._users(room),
            "history": list(self._history[room]),
        }

    async def _on_message(self, sid: str, *args: Any) -> dict[str, Any]:
        client = self._clients.get(sid)
        if client is None:
            return {"ok": False, "error": "not connected"}
        try:
            if len(args) != 1:
                raise _Invalid("message takes one argument: a string or {text, name, room}")
            data = args[0]
            if isinstance(data, str):
                data = {"text": data}
            if not isinstance(data, dict) or set(data) - {"text", "name", "room"}:
                raise _Invalid("message must be a string or {text, name, room}")
            text = _clean_text(data.get("text"), "text", MAX_MESSAGE_LENGTH)
            # A message may carry name/room (a client that never joined, or the tutorial's
            # page); otherwise the ones from the last join apply.
            name = client.name or f"guest-{client.public_id[:4]}"
            if data.get("name") is not None:
                name = _clean_text(data["name"], "name", MAX_CHAT_NAME_LENGTH)
            room = client.room or ROOMS[0]
            if data.get("room") is not None:
                room = _clean_room(data["room"])
            now = time.monotonic()
            if len(client.sent) == RATE_LIMIT and now - client.sent[0] < RATE_WINDOW:
                raise _Invalid("slow down: too many messages")
        except _Invalid as exc:
            return _error(exc)
        client.sent.append(now)
        if (name, room) != (client.name, client.room):
            await self._join(sid, client, name, room)
        message = {
            "id": next(self._message_ids),
            "room": room,
            "name": name,
            "text": text,
            "ts": int(time.time() * 1000),
            "from": client.public_id,
        }
        # As the tutorial's handler: print("Socket ID:", sid); print(message)
        logger.info("Socket ID: %s", sid)
        logger.info("%s", message)
        self._history[room].append(message)
        await self.sio.emit("message", message, to=room)
        return {"ok": True, "id": message["id"]}

    async def _on_join_prices(self, sid: str, *args: Any) -> dict[str, Any]:
        if sid not in self._clients:
            return {"ok": False, "error": "not connected"}
        return await self.ticker.join(sid)

    async def _on_leave_prices(self, sid: str, *args: Any) -> dict[str, Any]:
        if sid not in self._clients:
            return {"ok": False, "error": "not connected"}
        return await self.ticker.leave(sid)

    # -- helpers ----------------------------------------------------------------------------

    def _users(self, room: str) -> list[dict[str, Any]]:
        return [{"id": c.public_id, "name": c.name} for c in self._clients.values() if c.room == room]

    async def _send_presence(self, room: str) -> None:
        await self.sio.emit("presence", {"room": room, "users": self._users(room)}, to=room)

    async def _join(self, sid: str, client: _Client, name: str, room: str) -> None:
        old_room = client.room
        client.name = name
        if old_room != room:
            if old_room is not None:
                await self.sio.leave_room(sid, old_room)
            client.room = room
            await self.sio.enter_room(sid, room)
            if old_room is not None:
                await self._send_presence(old_room)
        await self._remember(sid, client)
        await self._send_presence(room)

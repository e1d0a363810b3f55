"""A help-desk server using the rest of the server API python-socketio's documentation shows.

- ``/``: auth checked in ``connect`` (refused with ``exceptions.ConnectionRefusedError`` and data),
  the user and a request header kept in the user session (``session()``, ``get_session()``,
  ``save_session()``), ``rooms()`` and ``transport()``, a chat room with ``skip_sid``, a server
  ``call()`` and an ``emit(callback=)``, a catch-all handler, and two ways to end a client:
  ``disconnect()`` and closing its Engine.IO transport (``eio.disconnect`` + ``manager``).
- ``/chat``: decorator-based handlers with ``namespace=``.
- ``/admin``: a class-based ``AsyncNamespace`` whose ``trigger_event`` override audits every event.
- ``/locked``: refuses everyone with Python's built-in ``ConnectionRefusedError``.
- with ``open_door``: catch-all ``connect`` and event handlers for any namespace (``namespace="*"``).
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

from aiohttp import web

import aiosio as socketio

from .pages import serve_options

ORIGIN = "http://desk.example"
TOKEN = "letmein"
PIN = "2468"


class Record:
    """What the handlers saw, for the tests."""

    def __init__(self) -> None:
        self.disconnects: list[tuple[str, str, str]] = []  # (namespace, sid, reason)
        self.caught: list[tuple[Any, ...]] = []  # catch-all calls: (event, sid, *args)
        self.verdict_acks: list[tuple[Any, ...]] = []  # client acks of "verdict" (emit callback)
        self.audit: list[tuple[str, str]] = []  # /admin trigger_event calls: (event, sid)


RECORD = web.AppKey("record", Record)


def add_chat(sio: Any, record: Record) -> None:
    """The ``/chat`` namespace, decorator-based."""

    @sio.event(namespace="/chat")
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        # A client that sends auth gets the three-argument call only (as in python-socketio).
        pass

    @sio.on("post", namespace="/chat")
    async def post(sid: str, data: Any) -> None:
        await sio.emit("posted", data, namespace="/chat")

    @sio.on("disconnect", namespace="/chat")
    def gone(sid: str, reason: str) -> None:
        record.disconnects.append(("/chat", sid, reason))


def add_open_door(sio: Any) -> None:
    """Catch-all ``connect`` and event handlers for every namespace (``namespace="*"``).

    Decorator handlers come before class-based namespaces in python-socketio's lookup, so with these
    installed they serve ``/admin`` and ``/locked`` too.
    """

    @sio.on("connect", namespace="*")
    async def any_namespace_connect(namespace: str, sid: str, environ: dict[str, Any], auth: Any) -> None:
        await sio.enter_room(sid, f"guests of {namespace}", namespace=namespace)

    @sio.on("*", namespace="*")
    async def any_namespace_event(event: str, namespace: str, sid: str, *args: Any) -> Any:
        return "any", namespace, event, sorted(sio.rooms(sid, namespace=namespace))


def build(
    lib: ModuleType = socketio, logger: logging.Logger | None = None, open_door: bool = False
) -> tuple[Any, web.Application]:
    """The desk server and its aiohttp app (*open_door*: add the catch-all namespace handlers)."""
    sio = lib.AsyncServer(
        async_mode="aiohttp",
        cors_allowed_origins=[ORIGIN],
        logger=logger or False,
        engineio_logger=False,
        # Catch-all handlers serve connected namespaces; '*' lets any namespace connect.
        namespaces="*" if open_door else None,
    )
    app = web.Application()
    sio.attach(app)
    record = Record()
    app[RECORD] = record

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        if not auth or auth.get("token") != TOKEN:
            raise lib.exceptions.ConnectionRefusedError("authentication failed", {"need": "token"})
        async with sio.session(sid) as session:
            session["user"] = auth.get("user", "anonymous")
            session["agent"] = environ.get("HTTP_X_DESK_AGENT", "")
            session["query"] = environ.get("QUERY_STRING", "")

    @sio.event
    def disconnect(sid: str, reason: str) -> None:
        record.disconnects.append(("/", sid, reason))

    @sio.event
    async def whoami(sid: str) -> tuple[Any, ...]:
        session = await sio.get_session(sid)
        return session["user"], session["agent"], sorted(sio.rooms(sid)), sio.transport(sid)

    @sio.event
    async def rename(sid: str, name: str) -> str:
        session = await sio.get_session(sid)
        await sio.save_session(sid, {**session, "user": name})  # a new dict: only saving keeps it
        return "renamed"

    @sio.event
    async def begin_chat(sid: str) -> None:
        await sio.enter_room(sid, "chat_users")

    @sio.event
    async def exit_chat(sid: str) -> None:
        await sio.leave_room(sid, "chat_users")

    @sio.on("chat message")
    async def chat_message(sid: str, data: Any) -> None:
        await sio.emit("chat reply", data, room="chat_users", skip_sid=sid)

    @sio.event
    async def quiz(sid: str) -> Any:
        answer = await sio.call("question", {"q": "colour?"}, to=sid, timeout=5)

        def noted(*args: Any) -> None:
            record.verdict_acks.append(args)

        await sio.emit("verdict", {"answer": answer}, to=sid, callback=noted)
        return answer

    @sio.event
    async def nudge(sid: str) -> None:
        await sio.emit("nudged", to=sid)

    @sio.event
    async def bye(sid: str) -> None:
        await sio.disconnect(sid)

    @sio.event
    async def drop_transport(sid: str) -> None:
        await sio.eio.disconnect(sio.manager.eio_sid_from_sid(sid, "/"))

    @sio.on("*")
    async def anything(event: str, sid: str, *args: Any) -> Any:
        record.caught.append((event, sid, *args))
        return "caught", event

    add_chat(sio, record)
    if open_door:
        add_open_door(sio)

    class Admin(lib.AsyncNamespace):  # type: ignore[name-defined,misc]
        """Class-based namespace; ``trigger_event`` is per-namespace middleware."""

        async def trigger_event(self, event: str, *args: Any) -> Any:
            record.audit.append((event, str(args[0]) if args else ""))
            return await super().trigger_event(event, *args)

        async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
            if not auth or auth.get("pin") != PIN:
                raise lib.exceptions.ConnectionRefusedError("wrong pin")
            await self.save_session(sid, {"level": "root"})

        def on_disconnect(self, sid: str, reason: str) -> None:
            record.disconnects.append(("/admin", sid, reason))

        async def on_status(self, sid: str, data: Any) -> Any:
            await self.enter_room(sid, "ops")
            await self.emit("status", data, room="ops")
            return (await self.get_session(sid))["level"]

        def on_ping(self, sid: str) -> str:
            return "pong"

    class Locked(lib.AsyncNamespace):  # type: ignore[name-defined,misc]
        """Refuses every client with the built-in exception (python-socketio treats it as a refusal)."""

        def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
            raise ConnectionRefusedError("closed for lunch")

    sio.register_namespace(Admin("/admin"))
    sio.register_namespace(Locked("/locked"))
    return sio, app


if __name__ == "__main__":
    web.run_app(build()[1], **serve_options())

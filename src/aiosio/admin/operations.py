"""What an admin may do from the UI (unless ``read_only``): Node's admin-ui ``emit``, ``join``,
``leave`` and ``_disconnect`` events, acting on the selected sockets of every server (through the
server's cluster operations: ``sockets_join``, ``sockets_leave``, ``disconnect_sockets``).

Each event names a namespace and an optional filter (a sid or a room; none: every socket of the
namespace). An operation whose arguments are not of the expected types is ignored (and logged),
never an error on the server; so is one from a socket that is not an admin the connect handler
let in (``admitted``), and an ``emit`` to the admin namespace itself.
"""

from __future__ import annotations

from collections.abc import Container
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..server.server import AsyncServer

#: What the UI is told it may do when operations are on (Node's feature names).
OPERATION_FEATURES = ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT"]


def _filter(value: Any) -> str | bool | None:
    """The UI's optional filter: a non-empty sid or room name, None/empty for everyone, or False
    when it is not a name."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    return False


class Operations:
    """The handlers of the admin namespace's operation events, for the sids in ``admitted`` (the
    admins the connect handler let in) only."""

    def __init__(self, sio: AsyncServer, admitted: Container[str], namespace: str) -> None:
        self._sio = sio
        self._admitted = admitted
        self._namespace = namespace

    def register(self) -> None:
        """Handle the operation events on the admin namespace."""
        namespace = self._namespace
        self._sio.on("emit", self.emit, namespace=namespace)
        self._sio.on("join", self.join, namespace=namespace)
        self._sio.on("leave", self.leave, namespace=namespace)
        self._sio.on("_disconnect", self.disconnect, namespace=namespace)

    def _refuse(self, operation: str, args: tuple[Any, ...]) -> None:
        self._sio.logger.warning("admin UI: %s with unexpected arguments ignored: %.200r", operation, args)

    def _stranger(self, sid: str, operation: str) -> bool:
        if sid in self._admitted:
            return False
        self._sio.logger.warning("admin UI: %s from %s, not an admin let in, ignored", operation, sid)
        return True

    async def emit(self, sid: str, *args: Any) -> None:
        """``emit(nsp, filter, event, ...args)``: emit ``event`` to the selected sockets."""
        if self._stranger(sid, "emit"):
            return
        if len(args) < 3 or not isinstance(args[0], str) or not isinstance(args[2], str):
            self._refuse("emit", args)
            return
        nsp, target, event = args[0], _filter(args[1]), args[2]
        if target is False or event in ("connect", "disconnect", "connect_error") or nsp == self._namespace:
            self._refuse("emit", args)
            return
        await self._sio.emit(event, tuple(args[3:]), to=target, namespace=nsp)

    async def join(self, sid: str, *args: Any) -> None:
        """``join(nsp, room, filter?)``: put the selected sockets in ``room``."""
        if self._stranger(sid, "join"):
            return
        parsed = self._room_args(args)
        if parsed is None:
            self._refuse("join", args)
            return
        nsp, room, target = parsed
        await self._sio.sockets_join(room, to=target, namespace=nsp)

    async def leave(self, sid: str, *args: Any) -> None:
        """``leave(nsp, room, filter?)``: take the selected sockets out of ``room``."""
        if self._stranger(sid, "leave"):
            return
        parsed = self._room_args(args)
        if parsed is None:
            self._refuse("leave", args)
            return
        nsp, room, target = parsed
        await self._sio.sockets_leave(room, to=target, namespace=nsp)

    async def disconnect(self, sid: str, *args: Any) -> None:
        """``_disconnect(nsp, close, filter?)``: disconnect the selected sockets (``close``: their
        connections too)."""
        if self._stranger(sid, "_disconnect"):
            return
        if not 2 <= len(args) <= 3 or not isinstance(args[0], str) or not isinstance(args[1], bool):
            self._refuse("_disconnect", args)
            return
        target = _filter(args[2]) if len(args) == 3 else None
        if target is False:
            self._refuse("_disconnect", args)
            return
        await self._sio.disconnect_sockets(to=target, namespace=args[0], close=args[1])

    @staticmethod
    def _room_args(args: tuple[Any, ...]) -> tuple[str, str, str | None] | None:
        if not 2 <= len(args) <= 3 or not isinstance(args[0], str):
            return None
        room = args[1]
        if not isinstance(room, str) or not room:
            return None
        target = _filter(args[2]) if len(args) == 3 else None
        if target is False:
            return None
        return args[0], room, target  # type: ignore[return-value]

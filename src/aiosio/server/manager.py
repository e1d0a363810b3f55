"""python-socketio's ``AsyncManager`` API (``sio.manager``), on top of an adapter (in-memory by
default; see :mod:`aiosio.adapters.base`). It lives in ``server/``, not ``adapters/``: it reaches the
server's sockets and acks, while adapters depend on nothing but their core.

The server keeps its sockets and hands rooms and broadcasts to :attr:`AsyncManager.adapter`; this
class answers the questions python-socketio apps ask their manager (``get_participants``,
``eio_sid_from_sid``, ``is_connected`` …) and is the class apps subclass to hook into the server:
when a subclass overrides one of :data:`HOOKS`, the server calls the override where python-socketio
would, and the override's ``super()`` call does the work. Which methods are overridden is checked
once, when the server is created, so a plain ``AsyncManager`` costs nothing per message.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..adapters.base import Adapter, Selector
from ..adapters.memory import MemoryAdapter

if TYPE_CHECKING:
    from .server import AsyncServer

default_logger = logging.getLogger("aiosio.manager")

#: The methods the server calls through the manager when a subclass overrides them.
HOOKS = (
    "emit",
    "enter_room",
    "leave_room",
    "close_room",
    "connect",
    "disconnect",
    "can_disconnect",
    "pre_disconnect",
    "trigger_callback",
)


class AsyncManager:
    """The client manager of an :class:`~aiosio.AsyncServer`: who is connected, and in which rooms.

    ``AsyncServer(client_manager=MyManager())`` takes a subclass. Sids are Socket.IO sids (one per
    namespace connection); ``eio_sid`` is the Engine.IO session id they run on.
    """

    def __init__(self) -> None:
        self.server: AsyncServer | None = None
        self.logger: logging.Logger | None = None
        #: Rooms and delivery (:class:`~aiosio.adapters.base.Adapter`): the in-memory adapter here;
        #: a cluster manager puts its own adapter in its place.
        self.adapter: Adapter = MemoryAdapter()

    # -- setup --------------------------------------------------------------------------------------

    def set_server(self, server: AsyncServer) -> None:
        """Called by the server it belongs to, when the server is created."""
        self.server = server

    def initialize(self) -> None:
        """Called once, before the server handles its first connection. Subclasses may extend it."""

    #: Set in the body of the library's own manager classes: their methods are not user hooks.
    _library_manager = True

    def overridden(self) -> frozenset[str]:
        """The names of :data:`HOOKS` this object's class overrides (below the library's own
        manager classes, such as :class:`~aiosio.AsyncRedisManager`)."""
        mro = type(self).__mro__

        def by_user(name: str) -> bool:
            for klass in mro:
                if name in vars(klass):
                    return not vars(klass).get("_library_manager", False)
            return False

        return frozenset(name for name in HOOKS if by_user(name))

    def _srv(self) -> AsyncServer:
        if self.server is None:
            raise RuntimeError("the manager is not attached to a server")
        return self.server

    def _get_logger(self) -> logging.Logger:
        if self.logger is not None:
            return self.logger
        if self.server is not None:
            return self.server.logger
        return default_logger

    # -- questions ----------------------------------------------------------------------------------

    @property
    def rooms(self) -> Mapping[str, Mapping[str | None, Mapping[str, str]]]:
        """python-socketio's ``rooms[namespace][room][sid] -> eio_sid``, as a read-only live view.

        Room ``None`` holds every socket of the namespace; each sid is also a room of its own.
        """
        return _RoomsView(self.adapter)

    def get_namespaces(self) -> Iterable[str]:
        """The namespaces that have clients now."""
        return self.adapter.namespace_names()

    def get_participants(self, namespace: str, room: str | list[str] | None) -> Iterator[tuple[str, str]]:
        """Yield ``(sid, eio_sid)`` for every client in ``room`` (several rooms: a list; every
        client of the namespace: None), each client once."""
        adapter = self.adapter
        if isinstance(room, (list, tuple, set, frozenset)):
            seen: dict[str, str] = {}
            for name in room:
                for sid, member in adapter.participants(namespace, name).items():
                    seen.setdefault(sid, member.eio_sid)
            yield from seen.items()
            return
        for sid, member in list(adapter.participants(namespace, room).items()):
            yield sid, member.eio_sid

    def get_rooms(self, sid: str, namespace: str) -> list[str]:
        """The rooms a client is in, its own sid room first."""
        return self.adapter.rooms(namespace, sid)

    def is_connected(self, sid: str, namespace: str) -> bool:
        """True once the client's connect was accepted, until it starts disconnecting."""
        sock = self._srv()._socket_in(sid, namespace)
        return sock is not None and sock.ready and not sock.gone

    def is_pre_connected(self, sid: str, namespace: str) -> bool:
        """True while the client's ``connect`` handler is deciding."""
        sock = self._srv()._socket_in(sid, namespace)
        return sock is not None and not sock.ready and not sock.gone

    def sid_from_eio_sid(self, eio_sid: str, namespace: str) -> str | None:
        """The Socket.IO sid of an Engine.IO session in a namespace, if it is connected to it."""
        session = self._srv().eio.core.get(eio_sid)
        conn = session.data if session is not None else None
        if conn is None:
            return None
        sock = conn.sockets.get(namespace)
        return sock.sid if sock is not None else None

    def eio_sid_from_sid(self, sid: str, namespace: str) -> str | None:
        """The Engine.IO session id a Socket.IO sid runs on (also inside its disconnect handler)."""
        sock = self._srv()._socket_in(sid, namespace)
        return sock.session.sid if sock is not None else None

    def is_sid_room(self, namespace: str, room: str) -> bool:
        """True if ``room`` is the sid of a client of the namespace."""
        return self.adapter.is_sid_room(namespace, room)

    # -- hooks the server calls (when overridden) --------------------------------------------------

    async def can_disconnect(self, sid: str, namespace: str) -> bool:
        """Whether ``sio.disconnect(sid)`` should go ahead: True if the client is connected."""
        return self.is_connected(sid, namespace)

    async def connect(self, sid: str, namespace: str) -> str:
        """The server accepted ``sid`` into ``namespace`` (its connect handler did not refuse)."""
        return sid

    def pre_disconnect(self, sid: str, namespace: str) -> str | None:
        """``sid`` is about to disconnect (its disconnect handler runs next); returns its eio sid."""
        return self.eio_sid_from_sid(sid, namespace)

    async def disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        """``sid`` has left ``namespace`` (after its disconnect handler, or after a refused connect).

        Its rooms are already gone when the server calls this; called directly, it takes the client
        out of every room of the namespace, as python-socketio's does.
        """
        self.basic_disconnect(sid, namespace, **kwargs)

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        """Emit to one client, a room, several rooms or the whole namespace (``AsyncServer.emit``
        calls this when a subclass overrides it). ``volatile=True`` may be among ``kwargs``."""
        await self._srv()._emit_direct(
            event,
            data,
            to=to if to is not None else room,
            skip_sid=skip_sid,
            namespace=namespace,
            callback=callback,
            volatile=bool(kwargs.get("volatile", False)),
        )

    async def enter_room(self, sid: str, namespace: str, room: str, eio_sid: str | None = None) -> None:
        """Put a client in a room (one this process does not hold: through the adapter)."""
        if self.adapter.is_sid_room(namespace, sid):
            self.basic_enter_room(sid, namespace, room, eio_sid)
        else:
            await self.adapter.add_sockets(namespace, Selector((sid,), sids=True), (room,))

    async def leave_room(self, sid: str, namespace: str, room: str) -> None:
        """Take a client out of a room (one this process does not hold: through the adapter)."""
        if self.adapter.is_sid_room(namespace, sid):
            self.basic_leave_room(sid, namespace, room)
        else:
            await self.adapter.del_sockets(namespace, Selector((sid,), sids=True), (room,))

    async def close_room(self, room: str, namespace: str) -> None:
        """Take every client out of a room: here (``basic_close_room``), then through the adapter
        (which reaches other nodes with a cluster adapter; nothing is left to do locally)."""
        self.basic_close_room(room, namespace)
        await self.adapter.del_sockets(namespace, Selector((room,)), (room,))

    async def trigger_callback(self, sid: str, id: int, data: list[Any]) -> None:
        """An ACK with ``id`` arrived from ``sid``: run what waits for it (unknown ids are ignored)."""
        self._srv()._resolve_ack(sid, namespace=None, ack_id=id, data=data)

    # -- the synchronous forms python-socketio also offers ------------------------------------------

    def basic_enter_room(self, sid: str, namespace: str, room: str, eio_sid: str | None = None) -> None:
        """Put a client in a room, now (unknown sids are ignored)."""
        self.adapter.join(namespace, sid, room)

    def basic_leave_room(self, sid: str, namespace: str, room: str) -> None:
        """Take a client out of a room, now."""
        self.adapter.leave(namespace, sid, room)

    def basic_close_room(self, room: str, namespace: str) -> None:
        """Take every client of this process out of a room, now."""
        self.adapter.close_room(namespace, room)

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        """Take a client out of every room of the namespace, now."""
        self.adapter.remove(namespace, sid)


class _Participants(Mapping[str, str]):
    """sid -> eio_sid over one room of the adapter."""

    __slots__ = ("_members",)

    def __init__(self, members: Mapping[str, Any]) -> None:
        self._members = members

    def __getitem__(self, sid: str) -> str:
        return str(self._members[sid].eio_sid)

    def __iter__(self) -> Iterator[str]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)


class _NamespaceRooms(Mapping[str | None, Mapping[str, str]]):
    """room -> participants for one namespace: ``None`` (everyone), each sid, each named room."""

    __slots__ = ("_adapter", "_namespace")

    def __init__(self, adapter: Adapter, namespace: str) -> None:
        self._adapter = adapter
        self._namespace = namespace

    def __getitem__(self, room: str | None) -> Mapping[str, str]:
        members = self._adapter.participants(self._namespace, room)
        if not members:
            raise KeyError(room)
        return _Participants(members)

    def __iter__(self) -> Iterator[str | None]:
        yield None
        yield from list(self._adapter.participants(self._namespace, None))
        yield from self._adapter.room_names(self._namespace)

    def __len__(self) -> int:
        sockets = len(self._adapter.participants(self._namespace, None))
        return 1 + sockets + len(self._adapter.room_names(self._namespace)) if sockets else 0


class _RoomsView(Mapping[str, Mapping[str | None, Mapping[str, str]]]):
    """namespace -> rooms, over the adapter (python-socketio's ``manager.rooms``)."""

    __slots__ = ("_adapter",)

    def __init__(self, adapter: Adapter) -> None:
        self._adapter = adapter

    def __getitem__(self, namespace: str) -> Mapping[str | None, Mapping[str, str]]:
        if not self._adapter.participants(namespace, None):
            raise KeyError(namespace)
        return _NamespaceRooms(self._adapter, namespace)

    def __iter__(self) -> Iterator[str]:
        return iter([n for n in self._adapter.namespace_names() if self._adapter.participants(n, None)])

    def __len__(self) -> int:
        return sum(1 for _ in self)

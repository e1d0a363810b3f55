"""The client's side of connection-state recovery (Node socket.io-client 4.6+'s, made safer).

Per namespace: the ``pid`` the server sent in its CONNECT reply and the offset of the newest event
received; on reconnection the CONNECT carries ``{pid, offset, **auth}``, and the connection is
recovered when the reply brings back the same pid. Only a trailing string that has an offset's form
(:func:`aiosio.recovery.offsets.looks_like_offset`) is taken for one, and it is taken off the event's
arguments before handlers see it (unless ``strip`` is False, Node's behaviour).
"""

from __future__ import annotations

import time
from typing import Any

from ..recovery.offsets import looks_like_offset


class RecoveryState:
    """pids, offsets and which namespaces were recovered, for one :class:`~aiosio.AsyncClient`."""

    __slots__ = ("offsets", "pids", "recovered", "strip")

    def __init__(self, strip: bool = True) -> None:
        self.strip = strip
        #: namespace -> the pid the server gave (only servers with recovery on send one).
        self.pids: dict[str, str] = {}
        #: namespace -> the offset of the newest event received with one.
        self.offsets: dict[str, str] = {}
        #: Namespaces of the current connection that were recovered.
        self.recovered: set[str] = set()

    def connect_payload(self, namespace: str, auth: Any) -> Any:
        """What the CONNECT for ``namespace`` carries: the app's ``auth``, plus pid and offset when
        there is a session to recover (the app's own ``pid``/``offset`` keys win, as in Node; an
        ``auth`` that is not a dict is sent as is)."""
        pid = self.pids.get(namespace)
        if pid is None or (auth is not None and not isinstance(auth, dict)):
            return auth if auth is not None else {}
        payload: dict[str, Any] = {"pid": pid}
        offset = self.offsets.get(namespace)
        if offset is not None:
            payload["offset"] = offset
        if auth:
            payload.update(auth)
        return payload

    def on_event(self, namespace: str, data: list[Any]) -> None:
        """An EVENT without ack id arrived: note its offset, and strip it (if it has one)."""
        if len(data) > 1 and namespace in self.pids:
            last = data[-1]
            if looks_like_offset(last, time.time() * 1000):
                self.offsets[namespace] = last
                if self.strip:
                    del data[-1]

    def on_connect(self, namespace: str, data: Any) -> bool:
        """The CONNECT reply arrived; returns whether the session was recovered."""
        pid = data.get("pid") if isinstance(data, dict) else None
        recovered = isinstance(pid, str) and self.pids.get(namespace) == pid
        if isinstance(pid, str):
            self.pids[namespace] = pid
            if not recovered:
                self.offsets.pop(namespace, None)  # a new session: the old offset means nothing here
        else:
            self.pids.pop(namespace, None)
            self.offsets.pop(namespace, None)
        if recovered:
            self.recovered.add(namespace)
        else:
            self.recovered.discard(namespace)
        return recovered

    def forget(self) -> None:
        """The app disconnected: the next ``connect()`` starts new sessions."""
        self.pids.clear()
        self.offsets.clear()
        self.recovered.clear()

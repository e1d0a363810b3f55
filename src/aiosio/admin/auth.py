"""Who may open the Admin UI's namespace: python-socketio's ``auth`` rule, and Node's session ids.

``auth`` is python-socketio's: ``False`` lets everyone in (never on a production server), a dict
is the one accepted set of credentials (compared for equality with what the client's CONNECT
carries, usually ``{"username": ..., "password": ...}``), a list of dicts accepts any of them, and
a callable (plain or ``async``) gets the client's auth and returns whether it may enter. ``None``
is refused at set-up, as in python-socketio and Node (the choice must be explicit).

As Node's admin-ui does, an admin let in by its credentials is given a session id (the ``session``
event); the UI keeps it and connects with ``{"sessionId": ...}`` after a page reload. Session ids
live in this process, for a day, and at most :data:`MAX_SESSIONS` of them.
"""

from __future__ import annotations

import inspect
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

#: At most this many admin session ids are kept (the oldest go first).
MAX_SESSIONS = 1000
#: An admin session id is accepted for this long after it was issued (Node's RedisStore default).
SESSION_SECONDS = 86400.0


class AdminAuth:
    """Checks the ``auth`` a client sends to the admin namespace against ``instrument(auth=...)``."""

    def __init__(self, auth: Any) -> None:
        if auth is None:
            raise ValueError("auth must be specified (False to disable authentication)")
        if auth is True:
            raise ValueError("auth=True is not a setting: give credentials, a callable, or False")
        if isinstance(auth, list):
            if not all(isinstance(item, dict) for item in auth):
                raise TypeError("auth: a list of credentials must hold dicts")
        elif not (auth is False or isinstance(auth, dict) or callable(auth)):
            raise TypeError("auth must be False, a dict, a list of dicts or a callable")
        self._auth = auth
        self._sessions: OrderedDict[str, float] = OrderedDict()

    @property
    def enabled(self) -> bool:
        """False when everyone is let in (``auth=False``)."""
        return self._auth is not False

    async def check(self, client_auth: Any) -> bool:
        """Whether a client that sent ``client_auth`` (its CONNECT's auth, or None) may enter."""
        auth = self._auth
        if auth is False:
            return True
        if isinstance(auth, dict):
            return bool(client_auth == auth)
        if isinstance(auth, list):
            return client_auth in auth
        check: Callable[[Any], Any] = auth
        verdict = check(client_auth)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        return bool(verdict)

    def has_session(self, client_auth: Any) -> bool:
        """True if ``client_auth`` carries a session id this process issued and that has not expired."""
        if not isinstance(client_auth, dict):
            return False
        session_id = client_auth.get("sessionId")
        if not isinstance(session_id, str):
            return False
        issued = self._sessions.get(session_id)
        return issued is not None and time.monotonic() - issued < SESSION_SECONDS

    def new_session(self) -> str:
        """Issue a session id (random, 128 bits) for an admin that just proved its credentials."""
        session_id = secrets.token_urlsafe(16)
        self._sessions[session_id] = time.monotonic()
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return session_id

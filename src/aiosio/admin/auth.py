"""Who may open the Admin UI's namespace: python-socketio's ``auth`` rule, and Node's session ids.

``auth`` is python-socketio's: ``False`` lets everyone in (never on a production server), a dict
is the one accepted set of credentials (the client's CONNECT must carry exactly those keys with
those values, usually ``{"username": ..., "password": ...}``), a list of dicts accepts any of them,
and a callable (plain or ``async``) gets the client's auth and returns whether it may enter.
``None`` is refused at set-up, as in python-socketio and Node (the choice must be explicit), and so
are an empty dict or list (python-socketio takes them for ``False``: everyone in; say ``False``).

Credentials are compared in constant time (:func:`hmac.compare_digest` per key, every key
compared), so the time a refusal takes says nothing about how much of a password was right.

As Node's admin-ui does for its basic auth, an admin let in by a dict or list of credentials is
given a session id (the ``session`` event); the UI keeps it and connects with ``{"sessionId": ...}``
after a page reload. Session ids live in this process, for :data:`SESSION_SECONDS`, and at most
:data:`MAX_SESSIONS` of them. A callable is asked at every connect, as python-socketio does: no
session id is issued or accepted then (it could not be revoked by the callable).
"""

from __future__ import annotations

import hmac
import inspect
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

#: At most this many admin session ids are kept (the oldest go first).
MAX_SESSIONS = 1000
#: An admin session id is accepted for this long after it was issued (Node's RedisStore default).
SESSION_SECONDS = 86400.0


def _same(given: Any, expected: Any) -> bool:
    """One credential: strings (and bytes) in constant time, anything else by equality."""
    if isinstance(given, str) and isinstance(expected, str):
        return hmac.compare_digest(given.encode(), expected.encode())
    if isinstance(given, bytes) and isinstance(expected, bytes):
        return hmac.compare_digest(given, expected)
    return bool(given == expected)


def same_credentials(given: Any, expected: Mapping[Any, Any]) -> bool:
    """Whether ``given`` (a client's auth) has exactly the keys of ``expected``, each with the same
    value; every value is compared, whichever differs (no early exit on a wrong one)."""
    if not isinstance(given, dict) or given.keys() != expected.keys():
        return False
    verdict = True
    for key, value in expected.items():
        verdict &= _same(given[key], value)
    return verdict


class AdminAuth:
    """Checks the ``auth`` a client sends to the admin namespace against ``instrument(auth=...)``."""

    def __init__(self, auth: Any, clock: Callable[[], float] = time.monotonic) -> None:
        if auth is None:
            raise ValueError("auth must be specified (False to disable authentication)")
        if auth is True:
            raise ValueError("auth=True is not a setting: give credentials, a callable, or False")
        if isinstance(auth, list):
            if not all(isinstance(item, dict) and item for item in auth):
                raise TypeError("auth: a list of credentials must hold non-empty dicts")
        elif not (auth is False or isinstance(auth, dict) or callable(auth)):
            raise TypeError("auth must be False, a dict, a list of dicts or a callable")
        if isinstance(auth, (dict, list)) and not auth:
            raise ValueError(
                f"auth={auth!r} holds no credentials (python-socketio would let everyone in): "
                "give credentials, or auth=False to disable authentication"
            )
        self._auth = auth
        self._clock = clock
        self._sessions: OrderedDict[str, float] = OrderedDict()

    @property
    def enabled(self) -> bool:
        """False when everyone is let in (``auth=False``)."""
        return self._auth is not False

    @property
    def issues_sessions(self) -> bool:
        """True for credentials (a dict or a list): a callable is asked at every connect."""
        return isinstance(self._auth, (dict, list))

    async def check(self, client_auth: Any) -> bool:
        """Whether a client that sent ``client_auth`` (its CONNECT's auth, or None) may enter."""
        auth = self._auth
        if auth is False:
            return True
        if isinstance(auth, dict):
            return same_credentials(client_auth, auth)
        if isinstance(auth, list):
            verdicts = [same_credentials(client_auth, expected) for expected in auth]
            return any(verdicts)
        check: Callable[[Any], Any] = auth
        verdict = check(client_auth)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        return bool(verdict)

    def has_session(self, client_auth: Any) -> bool:
        """True if ``client_auth`` carries a session id this process issued and that has not
        expired (an expired one is forgotten); always False for a callable ``auth``."""
        if not self.issues_sessions or not isinstance(client_auth, dict):
            return False
        session_id = client_auth.get("sessionId")
        if not isinstance(session_id, str):
            return False
        issued = self._sessions.get(session_id)
        if issued is None:
            return False
        if self._clock() - issued < SESSION_SECONDS:
            return True
        del self._sessions[session_id]
        return False

    def new_session(self) -> str:
        """Issue a session id (random, 128 bits) for an admin that just proved its credentials."""
        session_id = secrets.token_urlsafe(16)
        self._sessions[session_id] = self._clock()
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return session_id

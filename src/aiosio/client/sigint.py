"""Ctrl+C stops reconnection loops, as python-socketio's ``handle_sigint`` does.

The handler is installed while at least one client is active and removed (the previous one restored)
when the last one ends, so it never outlives the event loop it refers to — important for test runners
and ``asyncio.run``, which install SIGINT handlers of their own per run. It then chains to whatever
handler was there before, so Ctrl+C still interrupts the program.
"""

from __future__ import annotations

import signal
import threading
import weakref
from types import FrameType
from typing import Any, Protocol


class _Interruptible(Protocol):
    def _on_sigint(self) -> None: ...


_clients: weakref.WeakSet[Any] = weakref.WeakSet()
_previous: Any = None
_installed = False


def _handler(signum: int, frame: FrameType | None) -> Any:
    for client in list(_clients):
        client._on_sigint()
    previous = _previous
    if callable(previous):
        return previous(signum, frame)
    if previous == signal.SIG_IGN:
        return None
    raise KeyboardInterrupt


def register(client: _Interruptible) -> None:
    """Make ``client`` stop reconnecting on SIGINT (only possible from the main thread)."""
    global _previous, _installed
    if threading.current_thread() is not threading.main_thread():
        return
    _clients.add(client)
    if not _installed:
        _previous = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, _handler)
        _installed = True


def unregister(client: _Interruptible) -> None:
    """Forget ``client``; the last one out restores the previous handler (unless replaced since)."""
    global _previous, _installed
    _clients.discard(client)
    if _clients or not _installed or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is _handler:
        signal.signal(signal.SIGINT, _previous if _previous is not None else signal.SIG_DFL)
    _previous = None
    _installed = False

"""Connection-state recovery (Node's ``connectionStateRecovery``): a client whose connection is
lost comes back with the same sid, rooms and session, and gets every packet it missed, once and in
order. See docs/recovery.md.

- :mod:`.options`: :class:`RecoveryOptions`, the server option.
- :mod:`.offsets`: the offset form and the client's rule for recognising one.
- :mod:`.store`: the store interface and what it keeps.
- :mod:`.memory`: :class:`MemoryStore`, the in-process store.
- :mod:`.log`: the packet log and the lost-session shelf every store that keeps its own log shares
  (the in-process store, the ``--workers`` hub's :mod:`aiosio.workers.hub_log`).
"""

from __future__ import annotations

from .memory import MemoryStore
from .offsets import looks_like_offset
from .options import RecoveryOptions
from .store import RECOVERABLE_REASONS, RecoveryStats, RecoveryStore, Restored, SessionState

__all__ = [
    "RECOVERABLE_REASONS",
    "MemoryStore",
    "RecoveryOptions",
    "RecoveryStats",
    "RecoveryStore",
    "Restored",
    "SessionState",
    "looks_like_offset",
]

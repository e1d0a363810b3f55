"""The ``connection_state_recovery`` option of :class:`~aiosio.AsyncServer`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

#: The longest ``max_disconnection_duration`` accepted (seconds, about 31 years): beyond it is no
#: bound at all, and the workers' hub refuses it (a bounded number on its wire).
MAX_DURATION = 1e9
#: The largest count or byte bound accepted (what every store's wire carries as an integer).
MAX_BOUND = 2**63 - 1


@dataclass(frozen=True)
class RecoveryOptions:
    """Connection-state recovery settings: Node's options in snake_case and seconds, plus bounds.

    ``max_disconnection_duration`` (Node's ``maxDisconnectionDuration``, 120 s): how long a
    disconnected session, and the packets sent since, are kept. ``skip_middlewares`` (Node's
    ``skipMiddlewares``, True): a recovered connection is accepted at once (missed packets and the
    CONNECT reply go out before the ``connect`` handler runs, which is then told of it as with
    ``always_connect``). ``max_packets`` and ``max_bytes`` bound what is kept (the packets' encoded
    size); the oldest packets go first, and a session that needs an evicted packet is not
    recovered. ``max_sessions`` bounds the disconnected sessions kept (the oldest go first; the
    workers' hub keeps connected sessions too and counts them against it, see docs/recovery.md).

    ``max_disconnection_duration`` is a finite number of seconds, more than 0 and less than
    :data:`MAX_DURATION`; the bounds are integers from 1 to :data:`MAX_BOUND` (anything else: a
    :class:`ValueError` here, rather than a store that cannot take it later).
    """

    max_disconnection_duration: float = 120.0
    skip_middlewares: bool = True
    max_packets: int = 10_000
    max_bytes: int = 32 * 1024 * 1024
    max_sessions: int = 100_000

    def __post_init__(self) -> None:
        duration = self.max_disconnection_duration
        if (
            isinstance(duration, bool)
            or not isinstance(duration, int | float)
            or not math.isfinite(duration)
            or not 0 < duration < MAX_DURATION
        ):
            raise ValueError(
                f"max_disconnection_duration must be a number of seconds above 0 and below {MAX_DURATION:g}"
            )
        object.__setattr__(self, "max_disconnection_duration", float(duration))
        for name in ("max_packets", "max_bytes", "max_sessions"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BOUND:
                raise ValueError(f"{name} must be an integer from 1 to {MAX_BOUND}")
            object.__setattr__(self, name, int(value))

    @classmethod
    def of(cls, value: bool | Mapping[str, Any] | RecoveryOptions | None) -> RecoveryOptions | None:
        """The options for an ``AsyncServer(connection_state_recovery=...)`` value: None or False
        (off), True or ``{}`` (the defaults), a dict of the fields, or a :class:`RecoveryOptions`."""
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, RecoveryOptions):
            return value
        if not isinstance(value, Mapping):
            raise TypeError("connection_state_recovery must be a dict, True or None")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise TypeError(f"unknown connection_state_recovery options: {', '.join(unknown)}")
        return cls(**dict(value))

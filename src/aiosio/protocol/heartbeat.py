"""The Engine.IO v4 heartbeat as a deadline state machine (the server sends PING, the peer PONGs)."""

from __future__ import annotations

import enum


class HeartbeatAction(enum.Enum):
    """What the owner must do when the heartbeat's deadline passes."""

    SEND_PING = "send ping"
    TIMED_OUT = "ping timeout"


class Heartbeat:
    """Tracks one session's heartbeat; time is always passed in, never read.

    After the handshake the first PING is due ``interval`` seconds later; once it is sent a PONG must
    arrive within ``timeout`` seconds, after which the next PING is due ``interval`` later. The owner
    arms one timer at :attr:`deadline` and calls :meth:`expire` when it fires.
    """

    __slots__ = ("awaiting_pong", "deadline", "interval", "timeout")

    def __init__(self, interval: float, timeout: float, now: float) -> None:
        self.interval = interval
        self.timeout = timeout
        self.awaiting_pong = False
        self.deadline = now + interval

    def expire(self, now: float) -> HeartbeatAction:
        """The deadline passed: either a PING is due (and the PONG deadline set) or the peer is gone."""
        if self.awaiting_pong:
            return HeartbeatAction.TIMED_OUT
        self.awaiting_pong = True
        self.deadline = self._pong_base(now) + self.timeout
        return HeartbeatAction.SEND_PING

    def expired(self, now: float) -> bool:
        """True if a PONG is overdue (the timer may simply not have run yet)."""
        return self.awaiting_pong and now >= self.deadline

    def _pong_base(self, now: float) -> float:
        # The PONG deadline counts from when the PING was due, not from when the timer got to run,
        # so a peer silent for exactly interval + timeout is gone then, not a few ms later. After a
        # long stall (late by a quarter of the timeout or more) it counts from now instead, so a busy
        # loop does not time out every peer at once.
        due = self.deadline
        return due if now - due < self.timeout / 4 else now

    def pong(self, now: float) -> bool:
        """A PONG arrived. Returns False (and changes nothing) if no PING was outstanding."""
        if not self.awaiting_pong:
            return False
        self.awaiting_pong = False
        self.deadline = now + self.interval
        return True

"""Reconnection delays: exponential backoff with multiplicative jitter, as socket.io-client computes them.

Pure arithmetic (the random source is injectable), so it is tested without sleeping. The delay before
attempt ``n`` (counting from 0) is ``min * 2**n``, moved up or down by a random fraction of itself of at
most ``jitter``, then capped at ``max``. python-socketio instead adds an absolute ``±jitter`` seconds
after capping, so its delays can exceed the maximum; this one never does.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable


class Backoff:
    """Computes successive reconnection delays, in seconds.

    ``duration()`` returns the next delay and counts an attempt; ``reset()`` starts over after a
    successful connection.
    """

    __slots__ = ("_random", "attempts", "factor", "jitter", "max", "min")

    def __init__(
        self,
        min: float = 1.0,  # socket.io-client's option names
        max: float = 5.0,
        jitter: float = 0.5,
        factor: float = 2.0,
        random_source: Callable[[], float] = random.random,
    ) -> None:
        if min < 0 or max < 0:
            raise ValueError("reconnection delays must not be negative")
        if not 0 <= jitter <= 1:
            raise ValueError("randomization_factor must be between 0 and 1")
        self.min = float(min)
        self.max = float(max)
        self.jitter = float(jitter)
        self.factor = float(factor)
        self.attempts = 0
        self._random = random_source

    def duration(self) -> float:
        """The delay before the next attempt; each call counts one attempt."""
        base = self._base(self.attempts)
        self.attempts += 1
        if self.jitter:
            rand = self._random()
            deviation = rand * self.jitter * base
            # One random draw decides both the size and (through its first decimal digit's parity) the
            # direction of the deviation, exactly as socket.io-client does.
            base = base + deviation if math.floor(rand * 10) & 1 else base - deviation
        return max(0.0, min(base, self.max))

    def reset(self) -> None:
        """Start counting attempts from zero again."""
        self.attempts = 0

    def _base(self, attempts: int) -> float:
        # Beyond 2**64 times the minimum every realistic delay is long capped; stopping the exponent
        # there keeps the float finite however many attempts were made.
        return self.min * self.factor ** min(attempts, 64)

"""The demo's simulated stock prices and a rate meter: plain objects, no I/O, no clock of their own.

:class:`PriceModel` moves a few made-up stocks by a bounded random walk; :class:`RateMeter` turns
counts into per-second rates for the stats line. :mod:`.ticker` runs them on a timer and
broadcasts the results; keeping them apart lets the tests drive them step by step.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

__all__ = ["STOCKS", "PriceModel", "RateMeter"]

#: Made-up symbols and their opening prices (nothing here is real market data).
STOCKS: Mapping[str, float] = {
    "AIOS": 42.00,
    "HTTP": 118.50,
    "SOCK": 73.25,
    "LOOP": 19.80,
    "PYPI": 311.10,
    "WSKT": 64.40,
}


class PriceModel:
    """Prices that wander around their opening value, one :meth:`step` at a time.

    Each step moves a random subset of the symbols (at least one) by a log-normal step with a
    pull back towards the opening price, so prices stay positive and within a plausible band
    however long the demo runs. ``seed`` makes the sequence reproducible.
    """

    def __init__(
        self,
        stocks: Mapping[str, float] = STOCKS,
        *,
        seed: int | None = None,
        volatility: float = 0.004,
        reversion: float = 0.02,
    ) -> None:
        """Start every symbol of ``stocks`` at its opening price."""
        if not stocks:
            raise ValueError("stocks must name at least one symbol")
        self.open: dict[str, float] = {s: round(float(p), 2) for s, p in stocks.items()}
        self.prices: dict[str, float] = dict(self.open)
        self.volatility = volatility
        self.reversion = reversion
        self._random = random.Random(seed)

    @property
    def symbols(self) -> list[str]:
        """The symbols, in display order."""
        return list(self.open)

    def snapshot(self) -> dict[str, Any]:
        """Everything a new watcher needs: ``{"symbols", "open", "prices"}``."""
        return {"symbols": self.symbols, "open": dict(self.open), "prices": dict(self.prices)}

    def step(self) -> dict[str, float]:
        """Move some of the prices; return ``{symbol: new price}`` for the ones that moved."""
        rnd = self._random
        symbols = self.symbols
        moved = rnd.sample(symbols, rnd.randint(1, len(symbols)))
        changes: dict[str, float] = {}
        for symbol in moved:
            price, opening = self.prices[symbol], self.open[symbol]
            drift = -self.reversion * math.log(price / opening)
            new = round(price * math.exp(drift + rnd.gauss(0.0, self.volatility)), 2)
            new = max(new, 0.01)
            if new != price:
                self.prices[symbol] = changes[symbol] = new
        return changes


class RateMeter:
    """Counts events and reports them as a rate per second over the time since the last report."""

    def __init__(self, now: float) -> None:
        """Start measuring at time ``now`` (seconds, any monotonic clock)."""
        self._since = now
        self._count = 0

    def add(self, count: int = 1) -> None:
        """Record ``count`` more events."""
        self._count += count

    def rate(self, now: float) -> float:
        """Events per second since the last call (or the start), then start a new period."""
        elapsed = now - self._since
        value = self._count / elapsed if elapsed > 0 else 0.0
        self._since, self._count = now, 0
        return round(value, 1)

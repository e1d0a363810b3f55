"""The Admin UI's ``aggregatedEvents``: counts per second, type and sub-type (Node's EventBuffer).

Each ``server_stats`` carries what was counted since the previous one, as a list of
``{"timestamp": ms, "type": ..., "subType": ..., "count": n}`` (``subType`` only when there is
one: the close reason of a ``rawDisconnection``). The UI adds them up in ten-second buckets for
its connection and bytes histograms.
"""

from __future__ import annotations

import time
from typing import Any

#: Distinct (second, type, sub-type) entries kept between two reports; more are added to the
#: last second's entry of their type (bad luck with reasons cannot grow it without bound).
MAX_ENTRIES = 4096


class EventBuffer:
    """Counts events per wall-clock second until :meth:`take` empties it."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[tuple[int, str, str | None], int] = {}

    def push(self, type: str, sub_type: str | None = None, count: int = 1) -> None:
        """Count ``count`` events of ``type`` (and ``sub_type``) in the current second."""
        if count <= 0:
            return
        key = (int(time.time()) * 1000, type, sub_type)
        counts = self._counts
        if key not in counts and len(counts) >= MAX_ENTRIES:
            key = (key[0], type, None)
        counts[key] = counts.get(key, 0) + count

    def take(self) -> list[dict[str, Any]]:
        """What was counted since the last call, in Node's shape; the buffer is emptied."""
        counts, self._counts = self._counts, {}
        out: list[dict[str, Any]] = []
        for (timestamp, type, sub_type), count in counts.items():
            entry: dict[str, Any] = {"timestamp": timestamp, "type": type, "count": count}
            if sub_type is not None:
                entry["subType"] = sub_type
            out.append(entry)
        return out

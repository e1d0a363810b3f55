"""The Admin UI's ``aggregatedEvents``: counts per second, type and sub-type (Node's EventBuffer).

Each ``server_stats`` carries what was counted since the previous one, as a list of
``{"timestamp": ms, "type": ..., "subType": ..., "count": n}`` (``subType`` only when there is
one: the close reason of a ``rawDisconnection``). The UI adds them up in ten-second buckets for
its connection and bytes histograms.
"""

from __future__ import annotations

import time
from typing import Any

#: Distinct (second, type, sub-type) entries kept between two reports. Once there are that many,
#: a count that would need a new entry is added to the newest entry of its type instead (a type
#: met for the first time still gets one: the types are this package's few names), so neither
#: many close reasons nor a long time without a report can grow the buffer past this.
MAX_ENTRIES = 4096

Key = tuple[int, str, str | None]


class EventBuffer:
    """Counts events per wall-clock second until :meth:`take` empties it."""

    __slots__ = ("_counts", "_newest")

    def __init__(self) -> None:
        self._counts: dict[Key, int] = {}
        #: type -> the key of its newest entry (where counts go once the buffer is full).
        self._newest: dict[str, Key] = {}

    def __len__(self) -> int:
        return len(self._counts)

    def push(self, type: str, sub_type: str | None = None, count: int = 1) -> None:
        """Count ``count`` events of ``type`` (and ``sub_type``) in the current second."""
        if count <= 0:
            return
        key = (int(time.time()) * 1000, type, sub_type)
        counts = self._counts
        if key not in counts:
            if len(counts) >= MAX_ENTRIES:
                newest = self._newest.get(type)
                if newest is not None:
                    counts[newest] += count
                    return
            self._newest[type] = key
        counts[key] = counts.get(key, 0) + count

    def take(self) -> list[dict[str, Any]]:
        """What was counted since the last call, in Node's shape; the buffer is emptied."""
        counts, self._counts = self._counts, {}
        self._newest = {}
        out: list[dict[str, Any]] = []
        for (timestamp, type, sub_type), count in counts.items():
            entry: dict[str, Any] = {"timestamp": timestamp, "type": type, "count": count}
            if sub_type is not None:
                entry["subType"] = sub_type
            out.append(entry)
        return out

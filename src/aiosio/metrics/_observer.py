"""What the metrics hear from the server: an :class:`~aiosio.server.observe.Observer` counting in
plain ints and fixed-bucket histograms (no lock, no prometheus_client call on the hot path; the
collector turns them into metric families when scraped)."""

from __future__ import annotations

import asyncio
import math
from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..engine.session import CloseReason
from ..server.observe import Observer

if TYPE_CHECKING:
    from ..server.socket import ServerSocket

#: The label value that stands for every value past a label's cap.
OTHER = "other"

#: Handler durations (seconds): 100 µs to 10 s.
DURATION_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)
#: Ack round trips (seconds): 1 ms to 30 s.
ACK_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class LabelCap:
    """Admits values of a label up to a budget; later ones become ``'other'``, so the number of
    series stays bounded whatever clients send (namespaces with ``namespaces='*'``, event names).

    ``preset`` values and those ``known(value)`` accepts (the app's own: a registered handler's
    event or namespace) are always admitted and take none of the budget: ``limit`` is for the rest,
    the values a client chose, so junk names sent first cannot push the app's names into 'other'.
    """

    __slots__ = ("guessed", "known", "limit", "seen")

    def __init__(
        self, limit: int, preset: Sequence[str] = (), known: Callable[[str], bool] | None = None
    ) -> None:
        self.limit = limit
        self.known = known
        #: Values admitted that are neither preset nor known.
        self.guessed = 0
        self.seen: dict[str, str] = {value: value for value in preset}

    def __call__(self, value: str) -> str:
        """The label value for ``value``."""
        label = self.seen.get(value)
        if label is not None:
            return label
        if not isinstance(value, str):
            return OTHER
        known = self.known
        if known is not None and known(value):
            self.seen[value] = value
            return value
        if self.guessed >= self.limit:
            return OTHER
        self.guessed += 1
        self.seen[value] = value
        return value


def buckets(bounds: Sequence[float]) -> tuple[float, ...]:
    """Histogram bounds as Prometheus needs them: sorted, each once, finite (``+Inf`` is always
    added). Raises ValueError for a bound that is not a number, or NaN."""
    out = set()
    for bound in bounds:
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or math.isnan(bound):
            raise ValueError(f"a histogram bucket bound must be a number, got {bound!r}")
        if not math.isinf(bound):
            out.add(float(bound))
    return tuple(sorted(out))


class Histogram:
    """Counts per fixed bucket, and the sum; :meth:`cumulative` gives Prometheus's ``le`` buckets."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        """Count one value (``le`` semantics: a value equal to a bound is in that bucket)."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def cumulative(self) -> list[tuple[str, float]]:
        """``[(le, count of values <= le), ..., ('+Inf', count)]``."""
        out: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip(self.bounds, self.counts, strict=False):
            running += count
            out.append((_float_text(bound), running))
        out.append(("+Inf", running + self.counts[-1]))
        return out


def _float_text(value: float) -> str:
    return repr(float(value))


class MetricsObserver(Observer):
    """Counts what the server reports. Keys are label-value tuples; see docs/metrics.md."""

    def __init__(
        self,
        *,
        event_labels: bool = False,
        max_events: int = 50,
        max_namespaces: int = 50,
        duration_buckets: Sequence[float] = DURATION_BUCKETS,
        ack_buckets: Sequence[float] = ACK_BUCKETS,
        namespaces: Sequence[str] = (),
        known_namespaces: Callable[[str], bool] | None = None,
        known_events: Callable[[str], bool] | None = None,
    ) -> None:
        self.event_labels = event_labels
        self.namespace = LabelCap(max_namespaces, ["/", *namespaces], known_namespaces)
        self.event = LabelCap(max_events, (), known_events)
        self.reason = LabelCap(32, [v for k, v in vars(CloseReason).items() if k.isupper()])
        self.transport = LabelCap(4, ["polling", "websocket"])
        self.duration_buckets = buckets(duration_buckets)
        self.ack_buckets = buckets(ack_buckets)
        self.connections_opened: dict[str, int] = {}
        self.connections_closed: dict[str, int] = {}
        self.upgrades = 0
        self.slow_consumers = 0
        self.connects: dict[str, int] = {}
        self.disconnects: dict[tuple[str, str], int] = {}
        #: Per-event metrics, keyed by :meth:`_key`; a handler's count is in its duration histogram.
        self.durations: dict[str | tuple[str, str], Histogram] = {}
        self.errors: dict[str | tuple[str, str], int] = {}
        self.emits: dict[str | tuple[str, str], int] = {}
        self.recipients: dict[str | tuple[str, str], int] = {}
        self.acks: dict[str, Histogram] = {}
        #: The :class:`aiosio.metrics.Metrics` this observer counts for (set by ``instrument``).
        self.metrics: Any = None

    def _key(self, namespace: str, event: str) -> str | tuple[str, str]:
        """The label values of the per-event metrics: the namespace, or (namespace, event)."""
        ns = self.namespace.seen.get(namespace) or self.namespace(namespace)
        if not self.event_labels:
            return ns
        return (ns, self.event.seen.get(event) or self.event(event))

    # -- hooks ---------------------------------------------------------------------------------------

    def connection_opened(self, eio_sid: str, transport: str) -> None:
        """Count an Engine.IO connection by its first transport."""
        key = self.transport(transport)
        self.connections_opened[key] = self.connections_opened.get(key, 0) + 1

    def connection_closed(self, eio_sid: str, reason: str) -> None:
        """Count a closed connection by reason (slow consumers separately too)."""
        key = self.reason(reason)
        self.connections_closed[key] = self.connections_closed.get(key, 0) + 1
        if reason == CloseReason.SLOW_CONSUMER:
            self.slow_consumers += 1

    def transport_upgraded(self, eio_sid: str) -> None:
        """Count an upgrade to WebSocket."""
        self.upgrades += 1

    def socket_connected(self, sock: ServerSocket) -> None:
        """Count a namespace connect."""
        key = self.namespace(sock.namespace)
        self.connects[key] = self.connects.get(key, 0) + 1

    def socket_disconnected(self, sid: str, namespace: str, reason: str) -> None:
        """Count a namespace disconnect by reason."""
        key = (self.namespace(namespace), self.reason(reason))
        self.disconnects[key] = self.disconnects.get(key, 0) + 1

    def handler_finished(
        self, namespace: str, event: str, seconds: float, error: BaseException | None
    ) -> None:
        """Time a handler; count it as failed if it raised (a cancellation is not a failure)."""
        key: str | tuple[str, str] = self.namespace.seen.get(namespace) or self.namespace(namespace)
        if self.event_labels:
            key = self._key(namespace, event)
        histogram = self.durations.get(key)
        if histogram is None:
            histogram = self.durations[key] = Histogram(self.duration_buckets)
        histogram.counts[bisect_left(histogram.bounds, seconds)] += 1  # observe(), inlined
        histogram.total += seconds
        if error is not None and not isinstance(error, asyncio.CancelledError):
            self.errors[key] = self.errors.get(key, 0) + 1

    def event_emitted(
        self,
        namespace: str,
        event: str,
        args: tuple[Any, ...],
        rooms: Sequence[str] | None,
        recipients: int,
        exclude: Sequence[str],
    ) -> None:
        """Count an emit that reached sockets here, and how many (one reaching nobody here is not
        counted: ``recipients / emits`` stays the fan-out)."""
        if not recipients:
            return
        key = self._key(namespace, event)
        emits = self.emits
        emits[key] = emits.get(key, 0) + 1
        counts = self.recipients
        counts[key] = counts.get(key, 0) + recipients

    def ack_received(self, namespace: str, seconds: float) -> None:
        """Time an ack's round trip."""
        key = self.namespace(namespace)
        histogram = self.acks.get(key)
        if histogram is None:
            histogram = self.acks[key] = Histogram(self.ack_buckets)
        histogram.observe(seconds)

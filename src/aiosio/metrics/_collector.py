"""The prometheus_client collector: the observer's counts and the values read at scrape time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from ..server import observe
from ._observer import Histogram, MetricsObserver

K = TypeVar("K")

#: A connection with more than this many bytes waiting counts as backed up.
BACKED_UP_BYTES = 64 * 1024

_TRANSPORTS = ("polling", "websocket")


def _items(values: Mapping[K, Any]) -> list[tuple[K, Any]]:
    """A snapshot of a dict another thread may be changing (a scrape from a metrics thread)."""
    for _ in range(10):
        try:
            return list(values.items())
        except RuntimeError:  # changed size during iteration
            continue
    return []


class ServerCollector(Collector):
    """Collects one server's metrics; ``const_labels`` go on every sample (``worker`` under
    ``--workers``, or whatever tells several servers of one process apart)."""

    def __init__(self, server: Any, observer: MetricsObserver, const_labels: Mapping[str, str]) -> None:
        self.server = server
        self.observer = observer
        self.label_names = tuple(const_labels)
        self.label_values = tuple(const_labels.values())

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: the registry then takes the collector without calling ``collect``."""
        return ()

    # -- building families ---------------------------------------------------------------------------

    def _counter(
        self, name: str, doc: str, labels: Sequence[str], values: Iterable[tuple[Any, float]]
    ) -> Metric:
        family = CounterMetricFamily(name, doc, labels=[*self.label_names, *labels])
        for key, value in values:
            family.add_metric([*self.label_values, *_tuple(key)], value)
        return family

    def _gauge(
        self, name: str, doc: str, labels: Sequence[str], values: Iterable[tuple[Any, float]]
    ) -> Metric:
        family = GaugeMetricFamily(name, doc, labels=[*self.label_names, *labels])
        for key, value in values:
            family.add_metric([*self.label_values, *_tuple(key)], value)
        return family

    def _histogram(
        self, name: str, doc: str, labels: Sequence[str], values: Iterable[tuple[Any, Histogram]]
    ) -> Metric:
        family = HistogramMetricFamily(name, doc, labels=[*self.label_names, *labels])
        for key, histogram in values:
            family.add_metric([*self.label_values, *_tuple(key)], histogram.cumulative(), histogram.total)
        return family

    # -- the metrics ---------------------------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        """Every metric of docs/metrics.md, for this server, now."""
        obs = self.observer
        server = self.server
        per = ["namespace", "event"] if obs.event_labels else ["namespace"]

        sockets: Counter[tuple[str, str]] = Counter(
            (obs.namespace(ns), obs.transport(transport))
            for ns, transport in observe.connected_sockets(server)
        )
        for ns, _count in _items(obs.connects):
            for transport in _TRANSPORTS:
                sockets.setdefault((ns, transport), 0)
        yield self._gauge(
            "aiosio_connected_sockets",
            "Sockets connected now, by namespace and transport.",
            ["namespace", "transport"],
            sorted(sockets.items()),
        )
        connections = Counter(obs.transport(t) for t in observe.connections(server))
        for transport in _TRANSPORTS:
            connections.setdefault(transport, 0)
        yield self._gauge(
            "aiosio_connections",
            "Engine.IO connections open now, by transport.",
            ["transport"],
            sorted(connections.items()),
        )
        yield self._counter(
            "aiosio_connections_opened",
            "Engine.IO connections opened, by the transport they opened on.",
            ["transport"],
            _items(obs.connections_opened),
        )
        yield self._counter(
            "aiosio_connections_closed",
            "Engine.IO connections closed, by reason.",
            ["reason"],
            _items(obs.connections_closed),
        )
        yield self._counter(
            "aiosio_transport_upgrades",
            "Connections upgraded from polling to WebSocket.",
            [],
            [((), obs.upgrades)],
        )
        yield self._counter(
            "aiosio_slow_consumer_disconnects",
            "Connections closed because their outbound queue overflowed.",
            [],
            [((), obs.slow_consumers)],
        )
        yield self._counter(
            "aiosio_socket_connects",
            "Namespace connects accepted, by namespace.",
            ["namespace"],
            _items(obs.connects),
        )
        yield self._counter(
            "aiosio_socket_disconnects",
            "Namespace disconnects, by namespace and reason.",
            ["namespace", "reason"],
            _items(obs.disconnects),
        )

        packets_in, packets_out, bytes_in, bytes_out = observe.traffic(server)
        yield self._counter("aiosio_packets_received", "Engine.IO packets received.", [], [((), packets_in)])
        yield self._counter(
            "aiosio_packets_sent", "Engine.IO packets sent or queued.", [], [((), packets_out)]
        )
        yield self._counter(
            "aiosio_received_bytes",
            "Bytes of Engine.IO packets received (encoded length).",
            [],
            [((), bytes_in)],
        )
        yield self._counter(
            "aiosio_sent_bytes",
            "Bytes of Engine.IO packets sent or queued (encoded length).",
            [],
            [((), bytes_out)],
        )
        queues = observe.outbound_queues(server)
        yield self._gauge(
            "aiosio_outbound_queued_bytes",
            "Bytes waiting to be sent, all connections.",
            [],
            [((), sum(queues))],
        )
        yield self._gauge(
            "aiosio_outbound_queue_max_bytes",
            "Bytes waiting to be sent on the most backed-up connection.",
            [],
            [((), max(queues, default=0))],
        )
        yield self._gauge(
            "aiosio_outbound_backed_up_connections",
            f"Connections with more than {BACKED_UP_BYTES} bytes waiting to be sent.",
            [],
            [((), sum(1 for q in queues if q > BACKED_UP_BYTES))],
        )

        yield self._histogram(
            "aiosio_handler_duration_seconds",
            "Event handler run time (a coroutine: from its call to its end, loop delays included); "
            "_count: events handled.",
            per,
            _items(obs.durations),
        )
        yield self._counter("aiosio_handler_errors", "Event handlers that raised.", per, _items(obs.errors))
        yield self._counter(
            "aiosio_emits",
            "Emits that reached sockets of this process (broadcasts and to one sid; "
            "one reaching none is not counted).",
            per,
            _items(obs.emits),
        )
        yield self._counter(
            "aiosio_emit_recipients",
            "Sockets of this process the emits reached.",
            per,
            _items(obs.recipients),
        )
        yield self._histogram(
            "aiosio_ack_round_trip_seconds",
            "Time from sending an event that asks for an ack to the client's ack.",
            ["namespace"],
            _items(obs.acks),
        )
        observers = server.observers
        yield self._counter(
            "aiosio_observer_errors", "Exceptions raised by server observers.", [], [((), observers.errors)]
        )

        cluster = observe.cluster_stats(server)
        if cluster is not None:
            yield self._counter(
                "aiosio_cluster_published", "Cluster messages Redis accepted.", [], [((), cluster.published)]
            )
            yield self._counter(
                "aiosio_cluster_received",
                "Cluster messages received from Redis (this node's own broadcasts echoed back too).",
                [],
                [((), cluster.received)],
            )
            yield self._counter(
                "aiosio_cluster_dropped",
                "Cluster messages lost on the way out (queue full, failed round trip, link closed).",
                [],
                [((), cluster.dropped)],
            )
            yield self._counter(
                "aiosio_cluster_rejected",
                "Cluster messages received and refused (undecodable or malformed).",
                [],
                [((), cluster.rejected)],
            )
            yield self._gauge(
                "aiosio_cluster_pending_messages",
                "Cluster messages queued and not yet sent (the publish lag).",
                [],
                [((), cluster.pending)],
            )
            yield self._gauge(
                "aiosio_cluster_pending_bytes",
                "Bytes of the cluster messages queued.",
                [],
                [((), cluster.pending_bytes)],
            )
            yield self._gauge(
                "aiosio_cluster_publish_lag_seconds",
                "Seconds from queueing to Redis's answer, for the last batch published.",
                [],
                [((), cluster.lag)],
            )
            yield self._gauge(
                "aiosio_cluster_publish_lag_max_seconds",
                "The longest publish lag so far.",
                [],
                [((), cluster.max_lag)],
            )
            yield self._gauge(
                "aiosio_cluster_oldest_pending_age_seconds",
                "Seconds the oldest cluster message still queued has waited (0: none queued).",
                [],
                [((), cluster.oldest_pending_age)],
            )
            yield self._counter(
                "aiosio_cluster_outages", "Redis outages so far.", [], [((), cluster.outages)]
            )
            yield self._gauge(
                "aiosio_cluster_up",
                "1 while the link to Redis is up.",
                [],
                [((), 1 if cluster.connected else 0)],
            )


def _tuple(key: Any) -> tuple[str, ...]:
    return key if isinstance(key, tuple) else (key,)

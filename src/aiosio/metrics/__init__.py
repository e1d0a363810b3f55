"""Prometheus metrics for an aiosio server (the ``aiosio[metrics]`` extra: ``prometheus_client``).

::

    import aiosio.metrics
    aiosio.metrics.setup(app, sio)            # GET /metrics on the aiohttp app
    metrics = aiosio.metrics.instrument(sio)  # or only collect, into prometheus_client's REGISTRY

``import aiosio`` never imports this package (nor prometheus_client). Every metric, its labels and
what it costs: docs/metrics.md. The counting is an observer (:mod:`aiosio.server.observe`) that adds
plain ints; prometheus_client is called only when scraped.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import generate_latest

from ._collector import ServerCollector
from ._http import metrics_handler
from ._observer import ACK_BUCKETS, DURATION_BUCKETS, OTHER, MetricsObserver

__all__ = ["ACK_BUCKETS", "DURATION_BUCKETS", "OTHER", "RESERVED_LABELS", "Metrics", "instrument", "setup"]

#: registry -> the label sets of the servers it collects (two servers need telling apart).
_REGISTERED: weakref.WeakKeyDictionary[CollectorRegistry, set[tuple[tuple[str, str], ...]]] = (
    weakref.WeakKeyDictionary()
)


class Metrics:
    """One server's metrics: the :attr:`observer` that counts (registered on the server) and the
    :attr:`collector` (registered in :attr:`registry`) that reports them with the values read at
    scrape time. :meth:`close` takes both off again."""

    def __init__(
        self,
        server: Any,
        registry: CollectorRegistry,
        observer: MetricsObserver,
        const_labels: Mapping[str, str],
    ) -> None:
        self.server = server
        self.registry = registry
        self.observer = observer
        self.const_labels = dict(const_labels)
        self.collector = ServerCollector(server, observer, self.const_labels)

    def render(self) -> bytes:
        """The registry in Prometheus's text format (what ``/metrics`` answers in one process)."""
        return generate_latest(self.registry)

    def close(self) -> None:
        """Stop counting and unregister the collector."""
        self.server.observers.remove(self.observer)
        self.registry.unregister(self.collector)
        _REGISTERED.get(self.registry, set()).discard(_label_key(self.const_labels))


def _label_key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def _worker_label() -> dict[str, str]:
    from ..transport import server as transport

    own_id = getattr(transport.hand_off, "own_id", None)
    return {} if own_id is None else {"worker": str(own_id)}


#: Label names the metrics use themselves: a const label of that name would clash.
RESERVED_LABELS = frozenset({"namespace", "transport", "reason", "event", "le", "quantile"})
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _check_labels(labels: Mapping[str, str]) -> None:
    for name, label in labels.items():
        if not isinstance(name, str) or not _LABEL_NAME.match(name) or name.startswith("__"):
            raise ValueError(f"const_labels: {name!r} is not a valid Prometheus label name")
        if name in RESERVED_LABELS:
            raise ValueError(
                f"const_labels: {name!r} is a label of aiosio's own metrics; pick another name "
                f"(reserved: {', '.join(sorted(RESERVED_LABELS))})"
            )
        if not isinstance(label, str):
            raise ValueError(f"const_labels: the value of {name!r} must be a string, got {label!r}")


def _known_namespace(sio: Any, namespace: str) -> bool:
    """A namespace the app registered a handler for (never the catch-all's names)."""
    return namespace != "*" and (
        namespace in getattr(sio, "handlers", {}) or namespace in getattr(sio, "namespace_handlers", {})
    )


def _known_event(sio: Any, event: str) -> bool:
    """An event some namespace has a handler of its own for (not a catch-all)."""
    if event == "*":
        return False
    if any(event in by_ns for by_ns in list(getattr(sio, "handlers", {}).values())):
        return True
    for handler in list(getattr(sio, "namespace_handlers", {}).values()):
        find = getattr(handler, "handler_for", None)
        if find is not None and find(event) is not None:
            return True
    return False


def instrument(
    sio: Any,
    registry: CollectorRegistry | None = None,
    *,
    event_labels: bool = False,
    max_events: int = 50,
    max_namespaces: int = 50,
    const_labels: Mapping[str, str] | None = None,
    duration_buckets: Sequence[float] = DURATION_BUCKETS,
    ack_buckets: Sequence[float] = ACK_BUCKETS,
) -> Metrics:
    """Count ``sio``'s traffic into ``registry`` (prometheus_client's ``REGISTRY`` by default).

    ``event_labels=True`` adds an ``event`` label to the per-event metrics (events, handler
    duration and errors, emits): every event name the app has a handler of its own for, and up to
    ``max_events`` others (a catch-all's, first come; ``'other'`` past that); namespaces likewise
    (the registered ones, and ``max_namespaces`` others). Bucket bounds are sorted, deduplicated
    and kept finite. ``const_labels`` (not one of :data:`RESERVED_LABELS`) go on every sample
    (required to tell two servers of one registry apart); inside a ``--workers`` worker a
    ``worker`` label is added. Instrumenting a server twice for one registry returns the same
    :class:`Metrics`.
    """
    registry = REGISTRY if registry is None else registry
    _check_labels(const_labels or {})
    labels = {**_worker_label(), **(const_labels or {})}
    for observer in sio.observers:
        existing = getattr(observer, "metrics", None)
        if isinstance(existing, Metrics) and existing.registry is registry:
            return existing
    taken = _REGISTERED.setdefault(registry, set())
    key = _label_key(labels)
    if key in taken:
        raise ValueError(
            "this registry already collects a server with the same labels: give each server "
            "distinct const_labels (for example {'server': 'chat'})"
        )
    namespaces = sio.namespaces if isinstance(sio.namespaces, (list, tuple)) else ()
    observer = MetricsObserver(
        event_labels=event_labels,
        max_events=max_events,
        max_namespaces=max_namespaces,
        duration_buckets=duration_buckets,
        ack_buckets=ack_buckets,
        namespaces=[ns for ns in namespaces if isinstance(ns, str) and ns != "*"],
        known_namespaces=lambda ns: _known_namespace(sio, ns),
        known_events=lambda event: _known_event(sio, event),
    )
    metrics = Metrics(sio, registry, observer, labels)
    observer.metrics = metrics
    registry.register(metrics.collector)
    taken.add(key)
    sio.observers.add(observer)
    return metrics


def setup(
    app: web.Application,
    sio: Any,
    path: str = "/metrics",
    registry: CollectorRegistry | None = None,
    *,
    allow: Callable[[web.Request], bool] | None = None,
    **options: Any,
) -> Metrics:
    """Instrument ``sio`` (see :func:`instrument` for ``registry`` and ``options``) and serve the
    registry at ``GET path`` on the aiohttp ``app`` (under ``--workers``: every worker's metrics).

    The route is as public as the app: ``allow(request)`` returning False answers 403 (for example
    ``lambda r: r.remote == "127.0.0.1"``, or a token check); docs/metrics.md, "Exposure".
    """
    metrics = instrument(sio, registry, **options)
    app.router.add_get(path, metrics_handler(metrics.registry, allow))
    return metrics

"""``--metrics [PATH]`` of ``aiosio serve`` and ``aiosio run``: Prometheus metrics on the served app.

Only imported when the option is given, so the commands do not import prometheus_client otherwise.
Under ``--workers`` each worker instruments its own servers and any worker answers a scrape with
every worker's samples, labelled ``worker`` (see :mod:`aiosio.metrics._http`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .runner import ServeError

if TYPE_CHECKING:
    from aiohttp import web

#: The path ``--metrics`` serves when given without one.
DEFAULT_PATH = "/metrics"


def add_metrics(app: web.Application, servers: Sequence[Any], path: str) -> None:
    """Instrument every server (into prometheus_client's default registry) and serve it at ``path``.

    Several servers get a ``server`` label (their index); a route the app already has at ``path``
    (the app called :func:`aiosio.metrics.setup` itself) is kept.
    """
    try:
        import aiosio.metrics as metrics
    except ImportError as exc:
        raise ServeError(
            f"--metrics needs prometheus_client: pip install 'aiosio[metrics]' ({exc})"
        ) from None
    from prometheus_client import REGISTRY

    from aiosio.metrics._http import metrics_handler

    if not path.startswith("/"):
        raise ServeError(f"--metrics: the path must start with '/', got {path!r}")
    unique = list({id(s): s for s in servers}.values())
    for index, server in enumerate(unique):
        labels = {"server": str(index)} if len(unique) > 1 else {}
        metrics.instrument(server, REGISTRY, const_labels=labels)
    taken = any(getattr(resource, "canonical", None) == path for resource in app.router.resources())
    if not taken:
        app.router.add_get(path, metrics_handler(REGISTRY))

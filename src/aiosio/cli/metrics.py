"""``--metrics [PATH]`` of ``aiosio serve`` and ``aiosio run``: Prometheus metrics on the served app.

Only imported when the option is given, so the commands do not import prometheus_client otherwise.
Under ``--workers`` each worker instruments its own servers and any worker answers a scrape with
every worker's samples, labelled ``worker`` (see :mod:`aiosio.metrics._http`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .runner import ServeError

#: The path ``--metrics`` serves when given without one.
DEFAULT_PATH = "/metrics"


def add_metrics(app: Any, servers: Sequence[Any], path: str) -> Any:
    """Instrument every server (prometheus_client's default registry) and serve it at ``path``;
    returns the app to serve.

    The servers are ``servers`` plus those attached to an aiohttp ``app`` (its sub-apps too); several
    get a ``server`` label (their index). An aiohttp app gets a route (unless it already has one at
    ``path``: it called :func:`aiosio.metrics.setup` itself); an ASGI app is wrapped, ``path``
    answered by prometheus_client's ASGI app and everything else passed on.
    """
    try:
        from prometheus_client import REGISTRY, make_asgi_app

        import aiosio.metrics as metrics
    except ImportError as exc:
        raise ServeError(
            f"--metrics needs prometheus_client: pip install 'aiosio[metrics]' ({exc})"
        ) from None
    from aiohttp import web

    from aiosio.metrics._http import metrics_handler
    from aiosio.workers.install import find_servers

    if not path.startswith("/"):
        raise ServeError(f"--metrics: the path must start with '/', got {path!r}")
    is_aiohttp = isinstance(app, web.Application)
    found = find_servers(app, servers) if is_aiohttp else list({id(s): s for s in servers}.values())
    for index, server in enumerate(found):
        labels = {"server": str(index)} if len(found) > 1 else {}
        metrics.instrument(server, REGISTRY, const_labels=labels)
    if not is_aiohttp:
        return _asgi_with_metrics(app, path, make_asgi_app(REGISTRY))
    if not any(getattr(resource, "canonical", None) == path for resource in app.router.resources()):
        app.router.add_get(path, metrics_handler(REGISTRY))
    return app


def _asgi_with_metrics(app: Any, path: str, metrics_app: Any) -> Any:
    """An ASGI app answering HTTP requests for ``path`` with ``metrics_app``, the rest with ``app``."""

    async def with_metrics(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("path") == path:
            await metrics_app(scope, receive, send)
        else:
            await app(scope, receive, send)

    return with_metrics

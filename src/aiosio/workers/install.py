"""Find the Socket.IO servers of a worker's app and give them the workers' cluster adapter.

A server whose app kept the default client manager gets a
:class:`~aiosio.adapters.cluster.ClusterAdapter`: over the supervisor's hub
(:class:`~aiosio.workers.local_driver.LocalDriver`) by default, or over Redis (the
:class:`~aiosio.AsyncRedisManager` wire) when ``--redis URL`` is given. A server that already has a
client manager of its own (``AsyncServer(client_manager=...)``) keeps it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

__all__ = ["find_servers", "install_cluster"]

logger = logging.getLogger("aiosio.workers")


def find_servers(app: web.Application, known: Iterable[Any] = ()) -> list[Any]:
    """The ``AsyncServer`` objects in ``known`` plus those attached to ``app`` (and its sub-apps)
    with ``sio.attach(app)``, each once, in a stable order (the same in every worker)."""
    import aiosio
    from aiosio.transport.server import AiohttpEngineTransport

    found: list[Any] = []

    def add(candidate: Any) -> None:
        if isinstance(candidate, aiosio.AsyncServer) and all(candidate is not s for s in found):
            found.append(candidate)

    for server in known:
        add(server)

    def walk(application: web.Application) -> None:
        for resource in application.router.resources():
            for route in resource:
                owner = getattr(route.handler, "__self__", None)
                if isinstance(owner, AiohttpEngineTransport):
                    add(owner.core.handler)
            sub = getattr(resource, "_app", None)
            if isinstance(sub, web.Application):
                walk(sub)

    walk(app)
    return found


def install_cluster(
    servers: Iterable[Any],
    *,
    hub_path: str | None,
    redis_url: str | None = None,
    on_lost: Callable[[], None] | None = None,
) -> int:
    """Give each of ``servers`` still on the default manager a cluster adapter; return how many.

    Must run before the app starts (the adapter is set up at startup, before the first client).
    """
    from aiosio.adapters.cluster import ClusterAdapter
    from aiosio.server.manager import AsyncManager

    from .local_driver import LocalDriver

    installed = 0
    for index, server in enumerate(servers):
        manager = server.manager
        if type(manager) is not AsyncManager:
            logger.info("server %d keeps its own client manager %s", index, type(manager).__name__)
            continue
        if server._adapter_init is not None or server.manager.adapter.namespace_names():
            raise RuntimeError("the cluster adapter must be installed before the server starts")
        if redis_url is not None:
            from aiosio.server.redis_manager import AsyncRedisManager

            adapter = AsyncRedisManager(redis_url).adapter
            if server._recovery_options is not None:
                from aiosio.server.server import CLUSTER_RECOVERY_REFUSED

                # The server's own warning goes to its logger, silent by default: say it here too.
                logger.warning(
                    "server %d: connection-state recovery is off: %s", index, CLUSTER_RECOVERY_REFUSED
                )
        elif hub_path is not None:
            adapter = ClusterAdapter(LocalDriver(hub_path, channel=f"server-{index}", on_lost=on_lost))
        else:
            continue
        manager.adapter = adapter
        server._adapter = adapter
        installed += 1
    return installed

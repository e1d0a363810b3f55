"""Helpers for the Admin UI tests (imported by name: a folder's conftest module is not importable
reliably, every folder's is called ``conftest``)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from node_driver import NodeDriver

import aiosio

#: The credentials the tests' servers accept.
CREDENTIALS = {"username": "admin", "password": "s3cret"}
#: What :func:`admin_client` records: ``(event, args)`` in order.
Log = list[tuple[str, tuple[Any, ...]]]

Instrumented = Callable[..., Awaitable[tuple[aiosio.AsyncServer, Any, str]]]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def connect_admin(node: NodeDriver, url: str, client: str = "admin", **params: Any) -> dict[str, Any]:
    """Connect an npm client to ``/admin`` with :data:`CREDENTIALS` (or ``auth=``); returns its
    ``connect`` event (raises if it was refused)."""
    params.setdefault("auth", CREDENTIALS)
    await node.connect(client, url, nsp="/admin", **params)
    return await node.event("connect", client=client)


async def connect_user(node: NodeDriver, url: str, client: str, **params: Any) -> str:
    """Connect a plain npm client to ``/`` (WebSocket only unless ``transports=`` says otherwise);
    returns its sid."""
    params.setdefault("transports", ["websocket"])
    await node.connect(client, url, **params)
    return str((await node.event("connect", client=client))["sid"])


async def admin_event(node: NodeDriver, name: str, client: str = "admin", timeout: float = 10.0) -> list[Any]:
    """The arguments of the next ``name`` event an admin client got."""
    return list((await node.event("event", client=client, event=name, timeout=timeout))["args"])


async def admin_event_where(
    node: NodeDriver,
    name: str,
    match: Callable[[list[Any]], bool],
    client: str = "admin",
    timeout: float = 10.0,
) -> list[Any]:
    """The arguments of the next ``name`` event for which ``match(args)`` holds (others are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = deadline - loop.time()
        args = await admin_event(node, name, client, timeout=max(left, 0.01))
        if match(args):
            return args


async def admin_client(url: str, log: Log, auth: Any = None) -> aiosio.AsyncClient:
    """An aiosio client on ``/admin`` (over WebSocket) recording in ``log`` every admin event it gets."""
    client = aiosio.AsyncClient()

    @client.on("*", namespace="/admin")
    async def anything(event: str, *args: Any) -> None:
        log.append((event, args))

    await client.connect(url, namespaces=["/admin"], auth=auth, transports=["websocket"])
    return client

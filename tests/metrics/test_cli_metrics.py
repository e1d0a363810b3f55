"""``aiosio serve --metrics``, end to end: a real process, real clients, a real scrape; and under
``--workers 2`` every scrape carries both workers' samples (whichever worker answers it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

import aiosio
from processes import AIOSIO, ServerProcess

from .support import scrape, total

pytestmark = pytest.mark.timeout(90)

Start = Callable[[list[str]], ServerProcess]


def serve_cmd(*extra: str) -> list[str]:
    return [
        *AIOSIO,
        "serve",
        "--port",
        "0",
        "--db",
        ":memory:",
        "--no-access-log",
        "--shutdown-timeout",
        "3",
        *extra,
    ]


async def connect_clients(url: str, count: int) -> list[aiosio.AsyncClient]:
    clients = []
    for _ in range(count):
        client = aiosio.AsyncClient()
        await client.connect(url, transports=["websocket"])
        clients.append(client)
    return clients


async def test_serve_metrics(start: Start) -> None:
    server = start(serve_cmd("--metrics"))
    clients = await connect_clients(server.url, 2)
    try:
        samples = await scrape(server.url + "/metrics")
        assert total(samples, "aiosio_connected_sockets", transport="websocket") == 2
        assert total(samples, "aiosio_socket_connects_total") == 2
        assert total(samples, "aiosio_packets_received_total") >= 2
        # prometheus_client's default registry: the process metrics come along.
        assert any(name == "process_cpu_seconds_total" for name, _ in samples)
        assert not any("worker" in dict(labels) for _, labels in samples)
    finally:
        for client in clients:
            await client.disconnect()


async def test_serve_metrics_at_a_path_and_off_by_default(start: Start) -> None:
    import aiohttp

    server = start(serve_cmd("--metrics", "/internal/metrics"))
    samples = await scrape(server.url + "/internal/metrics")
    assert ("aiosio_connections", frozenset({("transport", "websocket")})) in samples
    plain = start(serve_cmd())
    async with aiohttp.ClientSession() as http, http.get(plain.url + "/metrics") as response:
        assert "aiosio_connections" not in await response.text()


async def test_serve_metrics_with_workers(start: Start) -> None:
    server = start(serve_cmd("--workers", "2", "--metrics"))
    clients = await connect_clients(server.url, 6)
    try:
        workers_seen: set[str] = set()
        for _ in range(8):  # each scrape lands on whichever worker accepts it
            samples = await scrape(server.url + "/metrics")
            up = {
                dict(labels)["worker"]: v
                for (name, labels), v in samples.items()
                if name == "aiosio_metrics_worker_up"
            }
            assert len(up) == 2 and set(up.values()) == {1.0}, up
            workers_seen |= set(up)
            # Every worker's sockets are in every scrape, each sample labelled with its worker.
            assert total(samples, "aiosio_connected_sockets") == 6
            labelled = {
                dict(labels).get("worker") for (name, labels) in samples if name == "aiosio_connections"
            }
            assert labelled == set(up)
            assert not [key for key in samples if "worker" not in dict(key[1])]
            await asyncio.sleep(0.05)
        assert len(workers_seen) == 2
    finally:
        for client in clients:
            await client.disconnect()


APPS = Path(__file__).parent / "apps"


def run_cmd(target: str, *extra: str) -> list[str]:
    return [
        *AIOSIO,
        "run",
        target,
        "--app-dir",
        str(APPS),
        "--port",
        "0",
        "--no-access-log",
        "--shutdown-timeout",
        "3",
        *extra,
    ]


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_run_metrics_finds_the_attached_server(start: Start, workers: str) -> None:
    """``aiosio run module:app --metrics``: the server attached to the app is instrumented."""
    server = start(run_cmd("metrics_app:app", "--metrics", "--workers", workers))
    clients = await connect_clients(server.url, 3)
    try:
        assert await clients[0].call("echo", 1) == 1
        samples = await scrape(server.url + "/metrics")
        assert total(samples, "aiosio_connected_sockets") == 3
        assert total(samples, "aiosio_handler_duration_seconds_count") == 1
        workers_up = [key for key in samples if key[0] == "aiosio_metrics_worker_up"]
        assert len(workers_up) == (2 if workers == "2" else 0)
    finally:
        for client in clients:
            await client.disconnect()


async def test_run_metrics_of_an_asgi_app(start: Start) -> None:
    """An ASGI target (served by uvicorn) is wrapped: /metrics answered, the rest passed on."""
    pytest.importorskip("uvicorn")
    server = start(run_cmd("metrics_app:asgi", "--metrics"))
    clients = await connect_clients(server.url, 2)
    try:
        samples = await scrape(server.url + "/metrics")
        assert total(samples, "aiosio_connected_sockets", transport="websocket") == 2
    finally:
        for client in clients:
            await client.disconnect()

"""Labels and buckets: a client's junk event names or namespaces cannot push the app's own into
'other'; custom buckets are sorted, deduplicated and finite; a const label cannot clash with a
label of the metrics. Peers: aiosio's client over real WebSockets."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

import aiosio
import aiosio.metrics

from .support import parse, until, value

pytestmark = pytest.mark.timeout(30)


async def test_junk_event_names_do_not_push_the_apps_into_other(serve: Any) -> None:
    sio = aiosio.AsyncServer()
    seen: list[str] = []

    @sio.on("*")
    async def any_event(event: str, sid: str, *args: Any) -> None:
        seen.append(event)

    @sio.event
    async def chat(sid: str, data: Any) -> None:
        seen.append("chat")

    registry = CollectorRegistry()
    metrics = aiosio.metrics.instrument(sio, registry, event_labels=True, max_events=5)
    handle = await serve(sio)
    client = aiosio.AsyncClient()
    await client.connect(handle.url, transports=["websocket"])
    for n in range(20):  # a client's names first, through the catch-all
        await client.emit(f"junk{n}", n)
    await client.emit("chat", "hi")
    await until(lambda: len(seen) == 21)
    samples = parse(metrics.render().decode())
    count = "aiosio_handler_duration_seconds_count"
    assert value(samples, count, namespace="/", event="chat") == 1
    assert value(samples, count, namespace="/", event="other") == 15
    junk = [k for k in samples if k[0] == count and dict(k[1])["event"].startswith("junk")]
    assert len(junk) == 5
    await client.disconnect()


async def test_junk_namespaces_do_not_push_the_apps_into_other(serve: Any) -> None:
    sio = aiosio.AsyncServer(namespaces="*")

    @sio.on("connect", namespace="/app")
    async def app_connect(sid: str, environ: Any) -> None:
        pass

    registry = CollectorRegistry()
    metrics = aiosio.metrics.instrument(sio, registry, max_namespaces=3)
    handle = await serve(sio)
    client = aiosio.AsyncClient()
    junk = [f"/junk{n}" for n in range(8)]
    await client.connect(handle.url, namespaces=[*junk, "/app"], transports=["websocket"])
    await until(lambda: len(client.namespaces) == 9)
    samples = parse(metrics.render().decode())
    connects = "aiosio_socket_connects_total"
    assert value(samples, connects, namespace="/app") == 1
    assert value(samples, connects, namespace="other") == 5
    assert sum(1 for k in samples if k[0] == connects and dict(k[1])["namespace"].startswith("/junk")) == 3
    await client.disconnect()


def render_histogram(buckets: tuple[float, ...], values: list[float]) -> list[tuple[str, float]]:
    registry = CollectorRegistry()
    metrics = aiosio.metrics.instrument(aiosio.AsyncServer(), registry, duration_buckets=buckets)
    for seconds in values:
        metrics.observer.handler_finished("/", "e", seconds, None)
    samples = parse(metrics.render().decode())
    return sorted(
        (dict(labels)["le"], v)
        for (name, labels), v in samples.items()
        if name == "aiosio_handler_duration_seconds_bucket"
    )


def test_custom_buckets_are_sorted_deduplicated_and_finite() -> None:
    # Unsorted: each le counts the values at or below it.
    assert render_histogram((1.0, 0.1), [0.05, 0.5, 2.0]) == [("+Inf", 3), ("0.1", 1), ("1.0", 2)]
    # An infinity given is the +Inf bucket already there; a repeated bound once.
    assert render_histogram((0.1, 1.0, 0.1, float("inf")), [0.05, 5.0]) == [
        ("+Inf", 2),
        ("0.1", 1),
        ("1.0", 1),
    ]
    for bad in ((float("nan"),), ("1",), (True,)):
        with pytest.raises(ValueError, match="bucket"):
            aiosio.metrics.instrument(aiosio.AsyncServer(), CollectorRegistry(), ack_buckets=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["namespace", "transport", "reason", "event", "le", "1bad", "__x"])
def test_a_const_label_clashing_or_invalid_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="const_labels"):
        aiosio.metrics.instrument(aiosio.AsyncServer(), CollectorRegistry(), const_labels={name: "x"})


def test_a_const_label_goes_on_every_sample() -> None:
    metrics = aiosio.metrics.instrument(
        aiosio.AsyncServer(), CollectorRegistry(), const_labels={"server": "chat"}
    )
    samples = parse(metrics.render().decode())
    assert samples and all(dict(labels).get("server") == "chat" for _name, labels in samples)

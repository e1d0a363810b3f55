"""Helpers of the metrics tests: a server with its /metrics route, scraping and reading samples."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

import aiosio.metrics

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class WithMetrics:
    """What the ``serve`` fixture runs: ``sio`` attached, and its metrics at /metrics."""

    def __init__(self, sio: Any, registry: CollectorRegistry | None = None, **options: Any) -> None:
        self.sio = sio
        self.registry = registry or CollectorRegistry()
        self.options = options
        self.metrics: aiosio.metrics.Metrics | None = None

    def attach(self, app: web.Application, **kwargs: Any) -> None:
        self.sio.attach(app, **kwargs)
        self.metrics = aiosio.metrics.setup(app, self.sio, registry=self.registry, **self.options)

    async def shutdown(self) -> None:
        await self.sio.shutdown()


def parse(text: str) -> Samples:
    """Every sample of a text exposition: (name, labels) -> value."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


async def scrape(url: str) -> Samples:
    """GET the metrics at ``url`` (status 200, Prometheus text) and parse them."""
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"].startswith("text/plain")
        return parse(await response.text())


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample ``name{labels}`` (exactly those labels); an absent sample fails the test (a
    metric that is missing must not pass for one that is 0)."""
    key = (name, frozenset(labels.items()))
    assert key in samples, (
        f"no sample {name}{labels}; have: {sorted(n for n, _ in samples if n.startswith(name))}"
    )
    return samples[key]


def absent(samples: Samples, name: str, **labels: str) -> bool:
    """True if there is no sample ``name{labels}`` (exactly those labels)."""
    return (name, frozenset(labels.items())) not in samples


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of every sample ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


async def until(predicate: Callable[[], Any], timeout: float = 5.0) -> None:
    """Wait until ``predicate()`` is true (polling), or fail."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)

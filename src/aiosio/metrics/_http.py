"""The ``/metrics`` route: one process's registry, or under ``--workers`` every worker's.

A worker of ``aiosio run/serve --workers N`` answers a scrape with its own samples and those of every
other live worker, fetched over the workers' private Unix sockets; every sample carries a ``worker``
label (the registry's own process and GC metrics too), so no worker's numbers are lost or mixed up
whichever worker the kernel hands the scrape to. Sum them in PromQL: ``sum without (worker) (...)``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, choose_encoder, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

#: A scrape with this header is answered with the worker's own samples only (the fan-in asks peers so).
LOCAL_HEADER = "X-Aiosio-Metrics-Scope"
#: How long a peer worker has to answer the fan-in, at most.
PEER_TIMEOUT = 2.0
#: ... and at least, however short the scraper's own timeout.
MIN_PEER_TIMEOUT = 0.1
#: The scraper's timeout (sent by Prometheus), and what of it is kept for the merge and the answer.
SCRAPE_TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
SCRAPE_MARGIN = 0.5

_WORKER_SOCKET = re.compile(r"^w(\d+)\.sock$")


def _hand_off() -> Any:
    """The worker's hand-off when this process is a ``--workers`` worker, else None."""
    from ..transport import server as transport

    return transport.hand_off


class _Families:
    """A registry-like object for ``generate_latest``: fixed metric families."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def _labelled(families: Iterable[Metric], worker: str) -> list[Metric]:
    """The families with ``worker`` on every sample that has none."""
    out = []
    for family in families:
        copy = Metric(family.name, family.documentation, family.type, family.unit)
        for s in family.samples:
            labels = s.labels if "worker" in s.labels else {**s.labels, "worker": worker}
            copy.samples.append(Sample(s.name, labels, s.value, s.timestamp, s.exemplar))
        out.append(copy)
    return out


def peer_timeout(scrape_timeout: str | None) -> float:
    """How long each peer worker has: :data:`PEER_TIMEOUT`, or less when the scraper says it gives
    up sooner (Prometheus's ``X-Prometheus-Scrape-Timeout-Seconds``, minus a margin for the merge)."""
    if scrape_timeout is None:
        return PEER_TIMEOUT
    try:
        budget = float(scrape_timeout)
    except ValueError:
        return PEER_TIMEOUT
    if not budget > 0:  # NaN too
        return PEER_TIMEOUT
    return max(MIN_PEER_TIMEOUT, min(PEER_TIMEOUT, budget - SCRAPE_MARGIN, budget / 2))


async def _peer_text(path: Path, url_path: str, timeout: float = PEER_TIMEOUT) -> str | None:
    connector = aiohttp.UnixConnector(path=str(path))
    try:
        async with (
            aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as session,
            session.get(f"http://worker{url_path}", headers={LOCAL_HEADER: "worker"}) as response,
        ):
            if response.status != 200:
                return None
            return await response.text()
    except (TimeoutError, aiohttp.ClientError, OSError, UnicodeDecodeError):
        return None


def _peers(runtime_dir: Path, own: str) -> list[tuple[str, Path]]:
    """The other workers' private sockets: ``(worker id, path)``."""
    peers = []
    for path in sorted(runtime_dir.glob("w*.sock")):
        match = _WORKER_SOCKET.match(path.name)
        if match is not None and match.group(1) != own:
            peers.append((match.group(1), path))
    return peers


def merge_texts(own: str, own_text: str, peers: list[tuple[str, str | None]]) -> bytes:
    """Every worker's text exposition merged into one, each sample labelled with its worker, and
    ``aiosio_metrics_worker_up`` (0 for a peer that did not answer).

    Every worker's text, this one's too, goes through the same parser, so a family is the same
    family from each (prometheus_client's counters' ``_created`` samples, for one, come out of the
    parser as a gauge of their own): one ``# TYPE`` per name, its samples together. CPU-bound
    (~10 µs a sample): the handler runs it in a thread.
    """
    merged: dict[str, Metric] = {}
    order: list[str] = []

    def add(families: Iterable[Metric]) -> None:
        for family in families:
            kept = merged.get(family.name)
            if kept is None:
                merged[family.name] = family
                order.append(family.name)
            elif kept.type == family.type:
                kept.samples.extend(family.samples)

    add(_labelled(text_string_to_metric_families(own_text), own))
    up = Metric("aiosio_metrics_worker_up", "1 for each worker whose metrics this scrape includes.", "gauge")
    up.samples.append(Sample("aiosio_metrics_worker_up", {"worker": own}, 1.0))
    for worker, text in peers:
        parsed: list[Metric] | None = None
        if text is not None:
            try:
                parsed = _labelled(text_string_to_metric_families(text), worker)
            except ValueError:  # not an exposition (not a worker's answer)
                parsed = None
        up.samples.append(
            Sample("aiosio_metrics_worker_up", {"worker": worker}, 0.0 if parsed is None else 1.0)
        )
        if parsed is not None:
            add(parsed)
    add([up])
    return generate_latest(_Families([merged[name] for name in order]))


async def gather_workers(
    registry: CollectorRegistry, hand_off: Any, url_path: str, timeout: float = PEER_TIMEOUT
) -> bytes:
    """This worker's samples and every other live worker's, merged, in the text format (each peer
    has ``timeout`` seconds to answer)."""
    own = str(hand_off.own_id)
    peers = _peers(Path(hand_off.runtime_dir), own)
    # Collected here, on the loop: the collectors read the servers' live state.
    own_text = generate_latest(registry).decode()
    texts = await asyncio.gather(*(_peer_text(path, url_path, timeout) for _id, path in peers))
    answers = [(worker, text) for (worker, _path), text in zip(peers, texts, strict=True)]
    return await asyncio.to_thread(merge_texts, own, own_text, answers)


def metrics_handler(registry: CollectorRegistry, allow: Callable[[web.Request], bool] | None = None) -> Any:
    """An aiohttp handler exposing ``registry`` (every worker's under ``--workers``, in the text
    format whatever ``Accept`` asks); ``allow(request)`` False answers 403."""

    async def handle(request: web.Request) -> web.Response:
        if allow is not None and not allow(request):
            raise web.HTTPForbidden()
        hand_off = _hand_off()
        if hand_off is not None and LOCAL_HEADER not in request.headers:
            timeout = peer_timeout(request.headers.get(SCRAPE_TIMEOUT_HEADER))
            body = await gather_workers(registry, hand_off, request.path, timeout)
            return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encoder(registry), headers={"Content-Type": content_type})

    return handle

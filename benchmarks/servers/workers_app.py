"""The aiosio benchmark server under ``aiosio run --workers N`` (targets ``aiosio-workers1/2``).

``python -m aiosio.cli.main run workers_app:app --app-dir benchmarks/servers --workers 2 --port N``:
the same handlers and options as ``sio_server.py --impl aiosio``, served by the ``aiosio run``
command (one process with ``--workers 1``; a supervisor and N workers on one port otherwise, their
broadcasts going through the workers' hub).
"""

from __future__ import annotations

from aiohttp import web
from sio_server import build_app


def app() -> web.Application:
    """The benchmark app (called by ``aiosio run`` in each worker, inside its event loop)."""
    return build_app("aiosio")

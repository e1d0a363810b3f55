"""``aiosio serve``: the live todo + chat + prices demo, with no arguments and no external services."""

from __future__ import annotations

import argparse
import sqlite3
import sys
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING

from .runner import ServeError, configure_logging, run_with_loop, serve_app

if TYPE_CHECKING:
    from aiohttp import web

    import aiosio

__all__ = ["build_demo", "run_serve"]


def _db_path(args: argparse.Namespace) -> Path | str:
    from aiosio.demo.store import default_db_path

    return args.db if args.db == ":memory:" else Path(args.db or default_db_path())


def build_demo(args: argparse.Namespace) -> tuple[web.Application, aiosio.AsyncServer]:
    """The demo app and its Socket.IO server, for ``args`` (also what each worker serves)."""
    # Imported here so that `aiosio --help` and `aiosio client` stay quick to start.
    import aiosio
    from aiosio.demo.app import create_app

    db_path = _db_path(args)
    # At debug level the Socket.IO server logs every packet too.
    sio = aiosio.AsyncServer(logger=args.log_level == "debug", connection_state_recovery=True)
    try:
        app = create_app(db_path, sio=sio)
    except (sqlite3.Error, OSError, RuntimeError) as exc:
        raise ServeError(f"cannot open the todo database {db_path}: {exc}") from None
    if getattr(args, "metrics", None):
        from .metrics import add_metrics

        add_metrics(app, [sio], args.metrics)
    return app, sio


async def _serve(args: argparse.Namespace, db_path: Path | str) -> None:
    app, _sio = build_demo(args)

    def announce(url: str) -> None:
        print(f"aiosio demo running on {url} (press Ctrl+C to quit)", flush=True)
        print(f"todos are kept in {db_path}", flush=True)
        if args.open:
            webbrowser.open(url)

    await serve_app(
        app,
        host=args.host,
        port=args.port,
        announce=announce,
        shutdown_timeout=args.shutdown_timeout,
        access_log=args.access_log,
    )


def run_serve(args: argparse.Namespace) -> int:
    """Run the demo server until SIGINT/SIGTERM; return the process exit status."""
    configure_logging(args.log_level)
    db_path = _db_path(args)
    workers = getattr(args, "workers", 1)
    if workers != 1 or getattr(args, "redis", None):
        from aiosio.workers.supervisor import run_supervisor

        def announce(url: str) -> None:
            print(f"aiosio demo running on {url} with {workers} workers (press Ctrl+C to quit)", flush=True)
            print(f"todos are kept in {db_path}", flush=True)
            if args.open:
                webbrowser.open(url)

        return run_supervisor(args, "serve", announce, "aiosio serve")
    try:
        run_with_loop(_serve(args, db_path), args.loop)
    except ServeError as exc:
        print(f"aiosio serve: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # only where signal handlers cannot be installed (Windows)
        pass
    return 0

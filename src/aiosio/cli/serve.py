"""``aiosio serve``: the live todo + chat + prices demo, with no arguments and no external services."""

from __future__ import annotations

import argparse
import sqlite3
import sys
import webbrowser
from pathlib import Path

from .runner import ServeError, configure_logging, run_with_loop, serve_app

__all__ = ["run_serve"]


async def _serve(args: argparse.Namespace, db_path: Path | str) -> None:
    # Imported here so that `aiosio --help` and `aiosio client` stay quick to start.
    import aiosio
    from aiosio.demo.app import create_app

    # At debug level the Socket.IO server logs every packet too.
    sio = aiosio.AsyncServer(logger=args.log_level == "debug")
    try:
        app = create_app(db_path, sio=sio)
    except (sqlite3.Error, OSError, RuntimeError) as exc:
        raise ServeError(f"cannot open the todo database {db_path}: {exc}") from None

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
    from aiosio.demo.store import default_db_path

    configure_logging(args.log_level)
    db_path: Path | str = args.db if args.db == ":memory:" else Path(args.db or default_db_path())
    try:
        run_with_loop(_serve(args, db_path), args.loop)
    except ServeError as exc:
        print(f"aiosio serve: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # only where signal handlers cannot be installed (Windows)
        pass
    return 0

"""``aiosio run module:attr``: serve a user's aiohttp application or Socket.IO server.

Like uvicorn for ASGI apps: the target is imported from ``module`` (the working directory, or
``--app-dir``, is put on ``sys.path`` first) and may be

* an :class:`aiohttp.web.Application`, served as is;
* an :class:`aiosio.AsyncServer`, attached to a new, otherwise empty application;
* an ASGI application (``aiosio.ASGIApp``, FastAPI, Starlette...), served by uvicorn
  (``pip install 'aiosio[asgi]'``; not with ``--workers``, see docs/asgi.md);
* a callable (sync or async) taking no arguments and returning any of those; it is called
  inside the running event loop, so it may create loop-bound resources.

On SIGINT/SIGTERM the servers it knows get ``await sio.shutdown()`` while their clients are
still connected: the target itself if it is a server, plus every ``AsyncServer`` found at the
top level of the target's module (the tutorial's ``sio = AsyncServer(); sio.attach(app)``).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from types import ModuleType
from typing import Any

from .runner import ServeError, configure_logging, run_with_loop, serve_app

__all__ = ["LoadError", "import_target", "resolve_target", "run_run"]


class LoadError(ServeError):
    """The target could not be imported or is not something ``aiosio run`` can serve."""


def import_target(spec: str, app_dir: str = ".") -> tuple[ModuleType, Any]:
    """Import ``module:attr`` (``attr`` may be dotted); return the module and the object."""
    module_name, _, attr_path = spec.partition(":")
    if not module_name or not attr_path:
        raise LoadError(f"expected 'module:attribute' (for example 'server:app'), got {spec!r}")
    if app_dir not in sys.path:
        sys.path.insert(0, app_dir)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only a missing *target* module is a load error; a missing import inside the user's
        # module is their bug and keeps its traceback.
        if exc.name is None or not (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise
        raise LoadError(f"could not import module {module_name!r}: {exc}") from None
    obj: Any = module
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise LoadError(f"module {module_name!r} has no attribute {attr_path!r}") from None
    return module, obj


async def resolve_target(
    obj: Any, module: ModuleType | None = None, socketio_path: str = "socket.io", asgi: bool = False
) -> tuple[Any, list[Any]]:
    """Turn an imported target into ``(application, servers to shut down)``; the application is
    an ASGI one only when ``asgi`` allows it (else that is a :class:`LoadError`)."""
    from aiohttp import web

    import aiosio

    from .asgi_serve import is_asgi_app

    found = [v for v in vars(module).values() if isinstance(v, aiosio.AsyncServer)] if module else []

    def unwrap(value: Any) -> tuple[web.Application, list[Any]] | None:
        if isinstance(value, web.Application):
            return value, found
        if isinstance(value, aiosio.AsyncServer):
            app = web.Application()
            value.attach(app, socketio_path=socketio_path)
            return app, [value, *(s for s in found if s is not value)]
        if is_asgi_app(value):
            if asgi:
                return value, found
            raise LoadError(
                "the target is an ASGI application: --workers serves aiohttp applications only "
                "(its workers pass aiohttp connections to each other); run it without --workers, "
                "or serve an aiosio.AsyncServer or an aiohttp app (docs/asgi.md)"
            )
        return None

    result = unwrap(obj)
    if result is None and callable(obj) and not isinstance(obj, type):
        produced = obj()
        if inspect.isawaitable(produced):
            produced = await produced
        result = unwrap(produced)
        if result is None:
            raise LoadError(
                f"the factory returned {type(produced).__name__}; expected an "
                "aiohttp.web.Application, an aiosio.AsyncServer or an ASGI application"
            )
    if result is None:
        raise LoadError(
            f"the target is {type(obj).__name__}; expected an aiohttp.web.Application, "
            "an aiosio.AsyncServer, an ASGI application, or a function returning one"
        )
    return result


async def _run(args: argparse.Namespace, module: ModuleType, obj: Any) -> None:
    from aiohttp import web

    from .asgi_serve import serve_asgi

    app, servers = await resolve_target(obj, module, args.socketio_path, asgi=True)
    if getattr(args, "metrics", None):
        from .metrics import add_metrics

        app = add_metrics(app, servers, args.metrics)

    def announce(url: str) -> None:
        print(f"aiosio running {args.target} on {url} (press Ctrl+C to quit)", flush=True)

    if not isinstance(app, web.Application):
        await serve_asgi(
            app,
            host=args.host,
            port=args.port,
            announce=announce,
            servers=servers,
            shutdown_timeout=args.shutdown_timeout,
            access_log=args.access_log,
            log_level=args.log_level,
        )
        return

    await serve_app(
        app,
        host=args.host,
        port=args.port,
        announce=announce,
        servers=servers,
        shutdown_timeout=args.shutdown_timeout,
        access_log=args.access_log,
    )


def run_run(args: argparse.Namespace) -> int:
    """Import and serve ``args.target``; return the process exit status."""
    configure_logging(args.log_level)
    workers = getattr(args, "workers", 1)
    if workers != 1 or getattr(args, "redis", None):
        from aiosio.workers.supervisor import run_supervisor

        def announce(url: str) -> None:
            print(
                f"aiosio running {args.target} on {url} with {workers} workers (press Ctrl+C to quit)",
                flush=True,
            )

        return run_supervisor(args, "run", announce, "aiosio run")
    try:
        module, obj = import_target(args.target, args.app_dir)
        run_with_loop(_run(args, module, obj), args.loop)
    except ServeError as exc:
        print(f"aiosio run: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # only where signal handlers cannot be installed (Windows)
        pass
    return 0

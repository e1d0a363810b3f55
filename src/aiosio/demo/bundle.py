"""Serving the official ``socket.io-client`` browser bundle, like Node's ``serveClient``.

The bundle (``socket.io.min.js`` from the npm package ``socket.io-client``, the version pinned by
the repository's ``package-lock.json``) is third-party code and never committed. Building a wheel
or an sdist (``pip install .``) puts it into ``aiosio/demo/static/vendor/`` first (the build hook
``hatch_build.py`` runs ``npm ci`` if needed, or fails with the command that fixes it), so an
installed aiosio serves a demo page that works without internet access. In a development
checkout (an editable install), the copy in ``node_modules`` is used when ``vendor/`` has none.
If it is missing anyway, :func:`add_client_routes` logs :data:`MISSING_BUNDLE` as an error and
the page shows a banner: a page that cannot connect is never silent.
"""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

__all__ = ["BUNDLE_NAMES", "MISSING_BUNDLE", "VENDOR_DIR", "add_client_routes", "find_client_bundle"]

logger = logging.getLogger("aiosio.demo")

#: The files served under ``/socket.io/``: the default build and the msgpack-parser build.
BUNDLE_NAMES = ("socket.io.min.js", "socket.io.msgpack.min.js")

#: Where the wheel carries the bundle.
VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor"

_NODE_DIST = Path("node_modules") / "socket.io-client" / "dist"

#: What the log says when the default bundle is missing: what breaks and the command that fixes it.
MISSING_BUNDLE = (
    "the socket.io-client browser bundle (socket.io.min.js) is missing, so the demo page cannot "
    "connect (no live updates, chat or prices). Fix: in a source checkout run `npm ci`, then "
    "restart; for an installed aiosio, reinstall it from a checkout with `pip install .` "
    "(its build runs `npm ci`)"
)


def find_client_bundle(name: str = "socket.io.min.js") -> Path | None:
    """Locate a browser bundle by file name; ``None`` if it is not installed anywhere.

    Looks in the package's ``static/vendor`` first, then in ``node_modules`` of the source
    checkout this package was imported from (an editable install) and of the working directory.
    """
    if name not in BUNDLE_NAMES:
        raise ValueError(f"unknown bundle {name!r}")
    candidates = [VENDOR_DIR / name]
    # src/aiosio/demo/bundle.py -> the checkout's root is three levels above the package.
    candidates += [p / _NODE_DIST / name for p in Path(__file__).resolve().parents[2:5]]
    candidates.append(Path.cwd() / _NODE_DIST / name)
    for path in candidates:
        if path.is_file():
            return path
    return None


def _bundle_handler(path: Path | None, name: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        if path is None:
            # A readable reason instead of a bare 404: the page shows it in its error banner.
            return web.Response(
                status=404,
                text=f"// {name} is not installed: run `npm ci` in the aiosio checkout (or reinstall "
                "aiosio with `pip install .` from one), then restart the server\n",
                content_type="application/javascript",
            )
        # FileResponse answers conditional requests (ETag / Last-Modified) with 304.
        return web.FileResponse(
            path,
            headers={
                "Content-Type": "application/javascript; charset=utf-8",
                "Cache-Control": "public, max-age=0",
            },
        )

    return handler


def add_client_routes(app: web.Application, socketio_path: str = "socket.io") -> bool:
    """Add ``GET /<socketio_path>/socket.io.min.js`` (and the msgpack build) to ``app``.

    aiohttp resolves the most specific path first (it walks a URL's path from the longest
    prefix to the shortest), so these exact paths win over whatever the Socket.IO server
    registers under the same prefix. Call this before ``sio.attach(app)`` anyway: between
    routes on the same path, the first one added wins. Returns whether the default bundle was
    found (if not, :data:`MISSING_BUNDLE` is logged as an error and the route answers 404 with
    the fix).
    """
    prefix = "/" + socketio_path.strip("/")
    found = True
    for name in BUNDLE_NAMES:
        path = find_client_bundle(name)
        if path is None and name == "socket.io.min.js":
            found = False
            logger.error(MISSING_BUNDLE)
        app.router.add_get(f"{prefix}/{name}", _bundle_handler(path, name))
    return found

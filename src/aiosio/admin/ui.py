"""Serving the Admin UI's files on an aiohttp app.

The UI is third-party code (the ``ui/dist`` folder of the npm package ``@socket.io/admin-ui``);
aiosio does not ship it. Install it (``npm install @socket.io/admin-ui``) and serve it with
:func:`serve_ui`, or use the hosted copy at https://admin.socket.io (then allow that origin in
``cors_allowed_origins``). The UI is a static single-page app: it only needs its files served and
the server's URL typed into its connection form.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

#: Where the UI's files are inside a ``node_modules`` folder.
UI_PACKAGE_DIR = Path("node_modules", "@socket.io", "admin-ui", "ui", "dist")


def find_ui(start: Path | None = None) -> Path | None:
    """The UI's files in the nearest ``node_modules`` above ``start`` (the working directory by
    default), or above this package's own location (a source checkout); None if not installed."""
    bases = [(start or Path.cwd()).resolve(), Path(__file__).resolve().parent]
    for base in bases:
        for folder in (base, *base.parents):
            candidate = folder / UI_PACKAGE_DIR
            if (candidate / "index.html").is_file():
                return candidate
    return None


def serve_ui(app: web.Application, path: str = "/admin-ui", directory: str | Path | None = None) -> Path:
    """Serve the Admin UI at ``path`` on ``app`` (``/admin-ui/`` by default; ``/admin-ui``
    redirects there). ``directory`` is the UI's ``dist`` folder; by default the one installed by
    npm in the nearest ``node_modules``. Returns the folder served.

    Raises :class:`FileNotFoundError` (saying what to install) when there is no UI there.
    """
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/', not {path!r}")
    root = Path(directory) if directory is not None else find_ui()
    if root is None or not (root / "index.html").is_file():
        where = f"in {root}" if root is not None else f"in any {UI_PACKAGE_DIR.parts[0]} folder"
        raise FileNotFoundError(
            f"the Socket.IO Admin UI is not installed (index.html of "
            f"{UI_PACKAGE_DIR.relative_to('node_modules')} not found {where}): "
            "run `npm install @socket.io/admin-ui`, pass directory=, "
            "or use the hosted UI at https://admin.socket.io"
        )
    root = root.resolve()
    index = root / "index.html"
    base = path.rstrip("/")

    async def redirect(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(base + "/")

    async def page(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(index)

    if base:
        app.router.add_get(base, redirect)
    app.router.add_get(base + "/", page)
    app.router.add_static(base + "/", root)
    return root

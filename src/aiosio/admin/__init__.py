"""The Socket.IO Admin UI for aiosio: :meth:`aiosio.AsyncServer.instrument` (python-socketio's
API, Node's ``@socket.io/admin-ui`` 0.5 protocol) and :func:`serve_ui` (the UI's files on an
aiohttp app). See docs/admin-ui.md."""

from .instrument import InstrumentedAsyncServer
from .ui import UI_PACKAGE_DIR, serve_ui

__all__ = ["UI_PACKAGE_DIR", "InstrumentedAsyncServer", "serve_ui"]

"""Test apps shaped like python-socketio's examples, written for ``import aiosio as socketio``.

Each server app module exposes ``build(lib=socketio, ...) -> (sio, web.Application)``; *lib* lets a
test run the very same app on python-socketio as the reference. Each client app module exposes an
async entry point taking the server URL (and *lib*). Run a server app by hand with
``python -m apps.<name>`` from ``tests/examples``.
"""

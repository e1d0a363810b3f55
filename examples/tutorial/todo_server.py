"""Tutorial 1, the server: an aiohttp app answering ``/`` and ``/todos`` with a JSON todo list.

Run it, then fetch the list with ``todo_client.py`` (or ``curl http://127.0.0.1:8080/todos``)::

    python examples/tutorial/todo_server.py                       # http://127.0.0.1:8080
    aiosio run todo_server:app --app-dir examples/tutorial         # the same, via the CLI

``aiosio serve`` is this tutorial grown up: the same ``/todos`` JSON, editable, stored in
SQLite and pushed live to every open page over Socket.IO.
"""

import os

from aiohttp import web

# The tutorial's todos: {"id": str, "title": str}. `aiosio serve` starts with the same three and
# keeps that shape (adding a "completed" flag).
TODOS = [
    {"id": "1", "title": "Go to the garden"},
    {"id": "2", "title": "Buy groceries"},
    {"id": "3", "title": "Read a book"},
]


async def get_todos(request: web.Request) -> web.Response:
    """Both routes answer with the whole list as JSON."""
    return web.json_response(TODOS)


app = web.Application()
app.router.add_get("/", get_todos)
app.router.add_get("/todos", get_todos)

if __name__ == "__main__":
    # PORT lets the tests (or you) pick another port; the tutorial's default is 8080.
    web.run_app(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8080")))

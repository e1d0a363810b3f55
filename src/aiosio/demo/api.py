"""The todo JSON API of the aiohttp tutorial, grown into a small validated CRUD API.

=========================  ==============================================================
``GET /todos``             the list (also ``GET /`` with ``Accept: application/json``)
``GET /todos/{id}``        one todo
``POST /todos``            ``{"title": str, "completed"?: bool}`` -> ``201`` + the new todo
``PATCH /todos/{id}``      ``{"title"?: str, "completed"?: bool}`` -> ``200`` + the todo
``DELETE /todos/{id}``     ``204``
=========================  ==============================================================

Errors are JSON objects ``{"error": "<what is wrong>"}``: ``400`` (invalid JSON or fields),
``404`` (no such todo), ``405``, ``409`` (list full), ``413`` (body over 16 KiB) and ``415``
(a body that is not ``application/json``; requiring it also means a cross-site form cannot post
to the API without a CORS preflight, which the demo never grants).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from .store import (
    StoreFullError,
    TodoStore,
    ValidationError,
    parse_todo_id,
    validate_changes,
    validate_new_todo,
)

__all__ = ["MAX_BODY_SIZE", "Notifier", "TodoApi", "json_errors", "prefers_json"]

logger = logging.getLogger("aiosio.demo")

#: Largest accepted request body; a todo is far smaller.
MAX_BODY_SIZE = 16 * 1024

#: Called after every change with an event name and its payload (see :mod:`.realtime`).
Notifier = Callable[[str, Any], Awaitable[None]]


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def error_response(status: int, message: str) -> web.Response:
    """A JSON error ``{"error": message}`` with the given status."""
    return web.json_response({"error": message}, status=status)


def _accept_quality(accept: str, media_type: str) -> float:
    # The q of the most specific media range in `accept` matching `media_type` (0 if none).
    main = media_type.split("/")[0]
    best: tuple[int, float] = (-1, 0.0)
    for item in accept.split(","):
        parts = [p.strip() for p in item.split(";")]
        rng = parts[0].lower()
        q = 1.0
        for param in parts[1:]:
            if param.lower().startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        specificity = {media_type: 2, f"{main}/*": 1, "*/*": 0}.get(rng, -1)
        if specificity > best[0]:
            best = (specificity, q)
    return best[1]


def prefers_json(accept: str | None) -> bool:
    """Whether an ``Accept`` header asks for JSON rather than HTML.

    Browsers (``text/html,...``) and ``curl`` (``*/*``) get the page; a client that names
    ``application/json`` with a higher or equal preference than ``text/html`` gets the list,
    as the tutorial's ``/`` route returned it.
    """
    if not accept:
        return False
    json_q = _accept_quality(accept, "application/json")
    html_q = _accept_quality(accept, "text/html")
    if json_q == 0:
        return False
    explicit = "application/json" in accept.lower()
    return json_q > html_q or (json_q == html_q and explicit and "text/html" not in accept)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn aiohttp's own plain-text errors (404, 405, 413...) on API paths into JSON errors."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        is_api = request.path == "/todos" or request.path.startswith("/todos/")
        if not is_api or exc.status < 400:
            raise
        response = error_response(exc.status, exc.reason.lower())
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response


class TodoApi:
    """The ``/todos`` routes over a :class:`~.store.TodoStore`, announcing changes."""

    def __init__(self, store: TodoStore, notify: Notifier | None = None) -> None:
        """Serve ``store``; ``notify`` is awaited after each successful change."""
        self.store = store
        self.notify = notify

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Register the routes on ``router``."""
        router.add_get("/todos", self.list_todos)
        router.add_post("/todos", self.create_todo)
        router.add_get("/todos/{id}", self.get_todo)
        router.add_patch("/todos/{id}", self.update_todo)
        router.add_delete("/todos/{id}", self.delete_todo)

    async def _announce(self, event: str, payload: Any) -> None:
        if self.notify is None:
            return
        try:
            await self.notify(event, payload)
        except Exception:
            # The change is committed; a failed push must not turn it into an error response.
            logger.exception("could not push %s", event)

    @staticmethod
    async def _read_json(request: web.Request) -> Any:
        if request.content_type != "application/json":
            raise _HttpError(415, "Content-Type must be application/json")
        if request.content_length is not None and request.content_length > MAX_BODY_SIZE:
            raise _HttpError(413, f"request body too large (limit {MAX_BODY_SIZE} bytes)")
        body = await request.read()
        if len(body) > MAX_BODY_SIZE:
            raise _HttpError(413, f"request body too large (limit {MAX_BODY_SIZE} bytes)")
        try:
            return json.loads(body)
        except ValueError:  # includes UnicodeDecodeError
            raise _HttpError(400, "request body is not valid JSON") from None

    @staticmethod
    def _todo_id(request: web.Request) -> int:
        raw = request.match_info["id"]
        todo_id = parse_todo_id(raw)
        if todo_id is None:
            raise _HttpError(404, f"no todo with id {raw!r}")
        return todo_id

    async def list_todos(self, request: web.Request) -> web.Response:
        """``GET /todos``: every todo, oldest first."""
        return web.json_response(await asyncio.to_thread(self.store.list_todos))

    async def get_todo(self, request: web.Request) -> web.Response:
        """``GET /todos/{id}``."""
        try:
            todo_id = self._todo_id(request)
            todo = await asyncio.to_thread(self.store.get, todo_id)
            if todo is None:
                raise _HttpError(404, f"no todo with id {todo_id}")
        except _HttpError as exc:
            return error_response(exc.status, str(exc))
        return web.json_response(todo)

    async def create_todo(self, request: web.Request) -> web.Response:
        """``POST /todos``: add a todo; ``201`` with the todo and its ``Location``."""
        try:
            title, completed = validate_new_todo(await self._read_json(request))
            todo = await asyncio.to_thread(self.store.add, title, completed)
        except _HttpError as exc:
            return error_response(exc.status, str(exc))
        except ValidationError as exc:
            return error_response(400, str(exc))
        except StoreFullError as exc:
            return error_response(409, str(exc))
        await self._announce("todo_added", todo)
        return web.json_response(todo, status=201, headers={"Location": f"/todos/{todo['id']}"})

    async def update_todo(self, request: web.Request) -> web.Response:
        """``PATCH /todos/{id}``: retitle and/or (un)complete a todo."""
        try:
            todo_id = self._todo_id(request)
            changes = validate_changes(await self._read_json(request))
            todo = await asyncio.to_thread(self.store.update, todo_id, changes)
            if todo is None:
                raise _HttpError(404, f"no todo with id {todo_id}")
        except _HttpError as exc:
            return error_response(exc.status, str(exc))
        except ValidationError as exc:
            return error_response(400, str(exc))
        await self._announce("todo_updated", todo)
        return web.json_response(todo)

    async def delete_todo(self, request: web.Request) -> web.Response:
        """``DELETE /todos/{id}``: ``204`` on success."""
        try:
            todo_id = self._todo_id(request)
            if not await asyncio.to_thread(self.store.delete, todo_id):
                raise _HttpError(404, f"no todo with id {todo_id}")
        except _HttpError as exc:
            return error_response(exc.status, str(exc))
        await self._announce("todo_deleted", {"id": str(todo_id)})
        return web.Response(status=204)

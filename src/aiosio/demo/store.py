"""The demo's todo list: validation and a small SQLite store.

A todo is a JSON object in the shape of the aiohttp tutorial's list, ``id`` a string and
``title`` its text, plus a ``completed`` flag the tutorial did not have::

    {"id": "1", "title": "Go to the garden", "completed": false}

Ids are decimal strings, as in the tutorial; SQLite keeps them as integers.

The store is deliberately synchronous (``sqlite3`` is tiny and fast for a list this size); the HTTP
handlers call it through :func:`asyncio.to_thread` so a slow disk never blocks the event loop.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

__all__ = [
    "MAX_TITLE_LENGTH",
    "MAX_TODOS",
    "TUTORIAL_TODOS",
    "StoreFullError",
    "Todo",
    "TodoChanges",
    "TodoStore",
    "ValidationError",
    "default_db_path",
    "parse_todo_id",
    "validate_changes",
    "validate_new_todo",
]

#: Longest accepted todo title, in characters (after surrounding whitespace is stripped).
MAX_TITLE_LENGTH = 200
#: Upper bound on the list's size, so a runaway script cannot fill the disk.
MAX_TODOS = 1000

# Bumped when the schema changes; stored in SQLite's user_version so a fresh file is recognisable
# (user_version 0) and seeded exactly once, even if the user later deletes every todo.
# Version 1 (aiosio 0.1) called the text column `name`; version 2 calls it `title`.
_SCHEMA_VERSION = 2


class Todo(TypedDict):
    """One todo item, exactly as it appears in the JSON API and in Socket.IO events."""

    id: str
    title: str
    completed: bool


class TodoChanges(TypedDict, total=False):
    """A validated partial update (the body of ``PATCH /todos/{id}``)."""

    title: str
    completed: bool


#: The three todos a new database starts with: the aiohttp tutorial's list, ids and titles as
#: the tutorial has them (``completed`` is the demo's addition).
TUTORIAL_TODOS: tuple[Todo, ...] = (
    {"id": "1", "title": "Go to the garden", "completed": False},
    {"id": "2", "title": "Buy groceries", "completed": False},
    {"id": "3", "title": "Read a book", "completed": False},
)


class ValidationError(ValueError):
    """Input that the API rejects with ``400 Bad Request``; the message is shown to the user."""


class StoreFullError(Exception):
    """Raised by :meth:`TodoStore.add` when the list already holds :data:`MAX_TODOS` items."""


def default_db_path() -> Path:
    """Where ``aiosio serve`` keeps its todos unless ``--db`` says otherwise.

    ``$AIOSIO_DEMO_DB`` if set; otherwise the per-user data directory
    (``$XDG_DATA_HOME/aiosio/demo.sqlite3``, i.e. ``~/.local/share/aiosio/demo.sqlite3`` on
    Linux, ``%LOCALAPPDATA%\\aiosio\\demo.sqlite3`` on Windows), so the demo keeps its list no
    matter which directory it is started from and never litters the working directory.
    """
    override = os.environ.get("AIOSIO_DEMO_DB")
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "aiosio" / "demo.sqlite3"


def _check_title(value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError("'title' must be a string")
    title = value.strip()
    if not title:
        raise ValidationError("'title' must not be empty")
    if len(title) > MAX_TITLE_LENGTH:
        raise ValidationError(f"'title' must be at most {MAX_TITLE_LENGTH} characters")
    # A todo title is one line of text; control characters would only break the page's layout.
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in title):
        raise ValidationError("'title' must not contain control characters")
    return title


def _check_completed(value: Any) -> bool:
    # JSON true/false only: 0/1 or "true" are almost always a client bug worth reporting.
    if not isinstance(value, bool):
        raise ValidationError("'completed' must be true or false")
    return value


def _check_fields(body: Any, allowed: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(body, dict):
        raise ValidationError("the request body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValidationError("unknown field(s): " + ", ".join(repr(k) for k in unknown))
    return body


def validate_new_todo(body: Any) -> tuple[str, bool]:
    """Validate the JSON body of ``POST /todos``; return ``(title, completed)``.

    ``title`` is required (a non-empty string of at most :data:`MAX_TITLE_LENGTH` characters,
    surrounding whitespace stripped); ``completed`` is optional (a boolean, default ``false``).
    Any other field is an error, so typos such as ``"complete"`` are reported, not ignored.
    """
    fields = _check_fields(body, frozenset({"title", "completed"}))
    if "title" not in fields:
        raise ValidationError("'title' is required")
    return _check_title(fields["title"]), _check_completed(fields.get("completed", False))


def validate_changes(body: Any) -> TodoChanges:
    """Validate the JSON body of ``PATCH /todos/{id}``: ``title`` and/or ``completed``."""
    fields = _check_fields(body, frozenset({"title", "completed"}))
    changes: TodoChanges = {}
    if "title" in fields:
        changes["title"] = _check_title(fields["title"])
    if "completed" in fields:
        changes["completed"] = _check_completed(fields["completed"])
    if not changes:
        raise ValidationError("nothing to change: send 'title' and/or 'completed'")
    return changes


def parse_todo_id(text: str) -> int | None:
    """Parse the ``{id}`` of a todo URL; ``None`` if it cannot name a todo (answered with 404)."""
    # isdecimal() rejects signs, spaces and non-ASCII digits that int() would accept.
    if not text.isascii() or not text.isdecimal() or len(text) > 18:
        return None
    value = int(text)
    return value if value > 0 else None


def _row_to_todo(row: tuple[int, str, int]) -> Todo:
    return {"id": str(row[0]), "title": row[1], "completed": bool(row[2])}


class TodoStore:
    """Todos in one SQLite file (or ``":memory:"``), safe to use from several threads.

    A new file is created (with its parent directories) and seeded with
    :data:`TUTORIAL_TODOS`; an existing one is used as is, so a restart keeps the list.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Open (creating and seeding if needed) the database at ``path``."""
        self.path = str(path)
        if self.path != ":memory:":
            self.path = str(Path(self.path).expanduser())
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves so seeding is one transaction.
        # check_same_thread=False + our own lock: the handlers run calls in worker threads.
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
        self._lock = threading.Lock()
        self._migrate()

    def _migrate(self) -> None:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                (version,) = cur.execute("PRAGMA user_version").fetchone()
                if version == 0:
                    # AUTOINCREMENT: ids of deleted todos are never reused, so a stale page's
                    # PATCH of a deleted todo gets a 404 instead of editing a newer one.
                    cur.execute(
                        "CREATE TABLE IF NOT EXISTS todos ("
                        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                        " title TEXT NOT NULL,"
                        " completed INTEGER NOT NULL DEFAULT 0)"
                    )
                    cur.executemany(
                        "INSERT INTO todos (id, title, completed) VALUES (?, ?, ?)",
                        [(int(t["id"]), t["title"], int(t["completed"])) for t in TUTORIAL_TODOS],
                    )
                elif version == 1:
                    # A list kept by aiosio 0.1: same rows, the text column renamed.
                    cur.execute("ALTER TABLE todos RENAME COLUMN name TO title")
                elif version > _SCHEMA_VERSION:
                    raise RuntimeError(f"{self.path} was written by a newer aiosio (schema {version})")
                if version != _SCHEMA_VERSION:
                    cur.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def list_todos(self) -> list[Todo]:
        """All todos, oldest first."""
        with self._lock:
            rows = self._conn.execute("SELECT id, title, completed FROM todos ORDER BY id")
            return [_row_to_todo(r) for r in rows.fetchall()]

    def get(self, todo_id: int) -> Todo | None:
        """The todo with this id (see :func:`parse_todo_id`), or ``None``."""
        with self._lock:
            row = self._conn.execute(
                "SELECT id, title, completed FROM todos WHERE id = ?", (todo_id,)
            ).fetchone()
        return _row_to_todo(row) if row else None

    def add(self, title: str, completed: bool = False) -> Todo:
        """Append a todo (already validated) and return it with its new id.

        Raises :class:`StoreFullError` when the list holds :data:`MAX_TODOS` todos.
        """
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                (count,) = cur.execute("SELECT COUNT(*) FROM todos").fetchone()
                if count >= MAX_TODOS:
                    raise StoreFullError(f"the list is full ({MAX_TODOS} todos)")
                cur.execute("INSERT INTO todos (title, completed) VALUES (?, ?)", (title, int(completed)))
                todo_id = cur.lastrowid
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        assert todo_id is not None
        return {"id": str(todo_id), "title": title, "completed": completed}

    def update(self, todo_id: int, changes: TodoChanges) -> Todo | None:
        """Apply validated ``changes``; return the updated todo, or ``None`` if there is none."""
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                if "title" in changes:
                    cur.execute("UPDATE todos SET title = ? WHERE id = ?", (changes["title"], todo_id))
                if "completed" in changes:
                    cur.execute(
                        "UPDATE todos SET completed = ? WHERE id = ?",
                        (int(changes["completed"]), todo_id),
                    )
                row = cur.execute(
                    "SELECT id, title, completed FROM todos WHERE id = ?", (todo_id,)
                ).fetchone()
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return _row_to_todo(row) if row else None

    def delete(self, todo_id: int) -> bool:
        """Delete a todo; ``False`` if there was none with this id."""
        with self._lock:
            cur = self._conn.execute("DELETE FROM todos WHERE id = ?", (todo_id,))
            return cur.rowcount > 0

    def close(self) -> None:
        """Close the database; the store must not be used afterwards."""
        with self._lock:
            self._conn.close()

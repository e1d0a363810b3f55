"""The demo's todo store and its validation rules."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from aiosio.demo.store import (
    MAX_TITLE_LENGTH,
    MAX_TODOS,
    TUTORIAL_TODOS,
    StoreFullError,
    TodoStore,
    ValidationError,
    default_db_path,
    parse_todo_id,
    validate_changes,
    validate_new_todo,
)


def test_new_database_starts_with_the_tutorial_todos(db_path: Path) -> None:
    store = TodoStore(db_path)
    assert store.list_todos() == list(TUTORIAL_TODOS)
    assert [t["id"] for t in store.list_todos()] == ["1", "2", "3"]
    assert store.list_todos()[0] == {"id": "1", "title": "Go to the garden", "completed": False}
    store.close()


def test_crud_and_persistence_across_reopen(db_path: Path) -> None:
    store = TodoStore(db_path)
    added = store.add("Write tests", completed=False)
    assert added == {"id": "4", "title": "Write tests", "completed": False}
    assert store.update(4, {"completed": True}) == {"id": "4", "title": "Write tests", "completed": True}
    assert store.update(4, {"title": "Write more tests"})["title"] == "Write more tests"  # type: ignore[index]
    assert store.delete(1) is True
    assert store.delete(1) is False
    assert store.update(1, {"completed": True}) is None
    assert store.get(1) is None
    store.close()

    reopened = TodoStore(db_path)
    assert [t["id"] for t in reopened.list_todos()] == ["2", "3", "4"]
    assert reopened.get(4) == {"id": "4", "title": "Write more tests", "completed": True}
    reopened.close()


def test_emptied_list_is_not_reseeded(db_path: Path) -> None:
    store = TodoStore(db_path)
    for todo in store.list_todos():
        store.delete(int(todo["id"]))
    store.close()
    assert TodoStore(db_path).list_todos() == []


def test_ids_of_deleted_todos_are_never_reused(db_path: Path) -> None:
    store = TodoStore(db_path)
    last = store.add("temporary")
    store.delete(int(last["id"]))
    assert int(store.add("next")["id"]) == int(last["id"]) + 1
    store.close()


def test_parent_directories_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "todos.sqlite3"
    TodoStore(path).close()
    assert path.is_file()


def test_memory_database_and_the_size_limit() -> None:
    store = TodoStore(":memory:")
    for i in range(MAX_TODOS - len(TUTORIAL_TODOS)):
        store.add(f"todo {i}")
    with pytest.raises(StoreFullError):
        store.add("one too many")
    assert len(store.list_todos()) == MAX_TODOS
    store.close()


def test_default_db_path_honours_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AIOSIO_DEMO_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_db_path() == tmp_path / "aiosio" / "demo.sqlite3"
    monkeypatch.setenv("AIOSIO_DEMO_DB", str(tmp_path / "x.db"))
    assert default_db_path() == tmp_path / "x.db"


def test_validate_new_todo_accepts_and_normalises() -> None:
    assert validate_new_todo({"title": "  Buy milk  "}) == ("Buy milk", False)
    assert validate_new_todo({"title": "Done", "completed": True}) == ("Done", True)
    assert validate_new_todo({"title": "x" * MAX_TITLE_LENGTH})[0] == "x" * MAX_TITLE_LENGTH
    assert validate_new_todo({"title": "ünïcødé ✓"}) == ("ünïcødé ✓", False)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "must be a JSON object"),
        ("title", "must be a JSON object"),
        (None, "must be a JSON object"),
        ({}, "'title' is required"),
        ({"title": ""}, "must not be empty"),
        ({"title": "   "}, "must not be empty"),
        ({"title": 5}, "must be a string"),
        ({"title": None}, "must be a string"),
        ({"title": "x" * (MAX_TITLE_LENGTH + 1)}, f"at most {MAX_TITLE_LENGTH}"),
        ({"title": "two\nlines"}, "control characters"),
        ({"title": "ok", "completed": "yes"}, "true or false"),
        ({"title": "ok", "completed": 1}, "true or false"),
        ({"title": "ok", "id": 7}, "unknown field(s): 'id'"),
        ({"title": "ok", "complete": True}, "unknown field(s): 'complete'"),
        ({"name": "ok"}, "unknown field(s): 'name'"),
    ],
)
def test_validate_new_todo_rejects(body: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_new_todo(body)


def test_validate_changes() -> None:
    assert validate_changes({"completed": True}) == {"completed": True}
    assert validate_changes({"title": " New "}) == {"title": "New"}
    for bad in ({}, {"completed": None}, {"title": ""}, {"name": "x"}, {"other": 1}, [1]):
        with pytest.raises(ValidationError):
            validate_changes(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("42", 42),
        ("0", None),
        ("-1", None),
        ("+1", None),
        ("1.0", None),
        ("abc", None),
        ("", None),
        ("٣", None),
        (" 1", None),
        ("9" * 19, None),
    ],
)
def test_parse_todo_id(text: str, expected: int | None) -> None:
    assert parse_todo_id(text) == expected


def test_a_list_kept_by_aiosio_0_1_is_migrated(db_path: Path) -> None:
    # Schema 1 (aiosio 0.1): integer ids as now, but the text column was called `name`.
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "CREATE TABLE todos (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,"
            " completed INTEGER NOT NULL DEFAULT 0)"
        )
        conn.executemany("INSERT INTO todos (name, completed) VALUES (?, ?)", [("kept", 1), ("also kept", 0)])
        conn.execute("PRAGMA user_version = 1")
    conn.close()
    store = TodoStore(db_path)
    assert store.list_todos() == [
        {"id": "1", "title": "kept", "completed": True},
        {"id": "2", "title": "also kept", "completed": False},
    ]
    assert store.add("new")["id"] == "3"
    store.close()
    assert TodoStore(db_path).list_todos()[-1] == {"id": "3", "title": "new", "completed": False}

"""The demo's todo store and its validation rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aiosio.demo.store import (
    MAX_NAME_LENGTH,
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
    assert [t["id"] for t in store.list_todos()] == [1, 2, 3]
    store.close()


def test_crud_and_persistence_across_reopen(db_path: Path) -> None:
    store = TodoStore(db_path)
    added = store.add("Write tests", completed=False)
    assert added == {"id": 4, "name": "Write tests", "completed": False}
    assert store.update(4, {"completed": True}) == {"id": 4, "name": "Write tests", "completed": True}
    assert store.update(4, {"name": "Write more tests"})["name"] == "Write more tests"  # type: ignore[index]
    assert store.delete(1) is True
    assert store.delete(1) is False
    assert store.update(1, {"completed": True}) is None
    assert store.get(1) is None
    store.close()

    reopened = TodoStore(db_path)
    assert [t["id"] for t in reopened.list_todos()] == [2, 3, 4]
    assert reopened.get(4) == {"id": 4, "name": "Write more tests", "completed": True}
    reopened.close()


def test_emptied_list_is_not_reseeded(db_path: Path) -> None:
    store = TodoStore(db_path)
    for todo in store.list_todos():
        store.delete(todo["id"])
    store.close()
    assert TodoStore(db_path).list_todos() == []


def test_ids_of_deleted_todos_are_never_reused(db_path: Path) -> None:
    store = TodoStore(db_path)
    last = store.add("temporary")
    store.delete(last["id"])
    assert store.add("next")["id"] == last["id"] + 1
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
    assert validate_new_todo({"name": "  Buy milk  "}) == ("Buy milk", False)
    assert validate_new_todo({"name": "Done", "completed": True}) == ("Done", True)
    assert validate_new_todo({"name": "x" * MAX_NAME_LENGTH})[0] == "x" * MAX_NAME_LENGTH
    assert validate_new_todo({"name": "ünïcødé ✓"}) == ("ünïcødé ✓", False)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "must be a JSON object"),
        ("name", "must be a JSON object"),
        (None, "must be a JSON object"),
        ({}, "'name' is required"),
        ({"name": ""}, "must not be empty"),
        ({"name": "   "}, "must not be empty"),
        ({"name": 5}, "must be a string"),
        ({"name": None}, "must be a string"),
        ({"name": "x" * (MAX_NAME_LENGTH + 1)}, f"at most {MAX_NAME_LENGTH}"),
        ({"name": "two\nlines"}, "control characters"),
        ({"name": "ok", "completed": "yes"}, "true or false"),
        ({"name": "ok", "completed": 1}, "true or false"),
        ({"name": "ok", "id": 7}, "unknown field(s): 'id'"),
        ({"name": "ok", "complete": True}, "unknown field(s): 'complete'"),
    ],
)
def test_validate_new_todo_rejects(body: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_new_todo(body)


def test_validate_changes() -> None:
    assert validate_changes({"completed": True}) == {"completed": True}
    assert validate_changes({"name": " New "}) == {"name": "New"}
    for bad in ({}, {"completed": None}, {"name": ""}, {"other": 1}, [1]):
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

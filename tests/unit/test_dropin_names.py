"""The public names python-socketio users import or read: each is provided by aiosio, or refused
with an explanation (and listed in docs/migration.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
import socketio
import socketio.exceptions
import socketio.packet

import aiosio

MIGRATION = Path(__file__).resolve().parents[2] / "docs" / "migration.md"


def test_every_name_in_python_socketios_all_is_provided_or_explained() -> None:
    """Each name of ``socketio.__all__`` is an aiosio attribute, or raises an AttributeError that
    says why and points to docs/migration.md, which names it."""
    doc = MIGRATION.read_text()
    provided, explained = [], []
    for name in socketio.__all__:
        try:
            getattr(aiosio, name)
        except AttributeError as exc:
            assert "docs/migration.md" in str(exc), name
            assert f"`{name}`" in doc, f"{name} is not in docs/migration.md"
            explained.append(name)
        else:
            provided.append(name)
    assert sorted(provided) == [
        "ASGIApp",
        "AsyncClient",
        "AsyncClientNamespace",
        "AsyncManager",
        "AsyncNamespace",
        "AsyncRedisManager",
        "AsyncServer",
        "AsyncSimpleClient",
    ]
    assert len(explained) == len(socketio.__all__) - len(provided)
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        aiosio.NoSuchThing  # noqa: B018


def test_exceptions_have_python_socketios_names_and_messages() -> None:
    """Every exception class of ``socketio.exceptions``, with the same hierarchy and default message."""
    for name in (
        "SocketIOError",
        "ConnectionError",
        "ConnectionRefusedError",
        "TimeoutError",
        "BadNamespaceError",
        "DisconnectedError",
    ):
        ours, theirs = getattr(aiosio.exceptions, name), getattr(socketio.exceptions, name)
        assert [c.__name__ for c in ours.__mro__[:-3]] == [c.__name__ for c in theirs.__mro__[:-3]]
    for args in [(), ("m",), ("m", {"d": 1}), ("m", 1, 2)]:
        ours_args = aiosio.exceptions.ConnectionRefusedError(*args).error_args
        theirs_args = socketio.exceptions.ConnectionRefusedError(*args).error_args
        assert _plain(ours_args) == _plain(theirs_args)


def _plain(error_args: dict[str, object]) -> dict[str, object]:
    """Tuples as lists: both serialise to the same JSON array."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in error_args.items()}


def test_packet_module_has_the_type_numbers() -> None:
    """``socketio.packet``'s type constants and names."""
    for name in socketio.packet.packet_names:
        assert getattr(aiosio.packet, name) == getattr(socketio.packet, name)
    assert aiosio.packet.packet_names == socketio.packet.packet_names


def test_server_attributes_apps_read() -> None:
    """``reserved_events``, ``reason``, ``async_mode`` and friends, as python-socketio has them."""
    ours, theirs = aiosio.AsyncServer(), socketio.AsyncServer(async_mode="aiohttp")
    assert ours.reserved_events == theirs.reserved_events
    assert ours.async_mode == theirs.async_mode == "aiohttp"
    for reason in (
        "SERVER_DISCONNECT",
        "CLIENT_DISCONNECT",
        "PING_TIMEOUT",
        "TRANSPORT_CLOSE",
        "TRANSPORT_ERROR",
    ):
        assert getattr(ours.reason, reason) == getattr(theirs.reason, reason)
    for attr in (
        "namespaces",
        "always_connect",
        "async_handlers",
        "handlers",
        "namespace_handlers",
        "manager_initialized",
    ):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert ours.eio.ping_interval == theirs.eio.ping_interval
    assert ours.eio.ping_timeout == theirs.eio.ping_timeout
    assert ours.eio.max_http_buffer_size == theirs.eio.max_http_buffer_size
    with pytest.raises(ValueError, match="auth must be specified"):
        theirs.instrument()
    with pytest.raises(ValueError, match="auth must be specified"):
        ours.instrument()  # python-socketio's rule: auth must be given (False to disable it)

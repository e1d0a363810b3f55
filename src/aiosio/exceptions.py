"""Exceptions raised by aiosio, named and arranged as python-socketio's are."""

from __future__ import annotations

from typing import Any


class SocketIOError(Exception):
    """Base class of every aiosio error."""


class ConnectionError(SocketIOError):  # shadows the builtin on purpose: python-socketio names
    """A connection could not be made or was lost."""


class ConnectionRefusedError(ConnectionError):
    """Raised by a ``connect`` handler to refuse a client; the client gets CONNECT_ERROR.

    ``ConnectionRefusedError("message")`` sends ``{"message": "message"}``; extra arguments go in
    ``data`` (one argument as is, several as a list).
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        message = str(args[0]) if args else "Connection rejected by server"
        self.error_args: dict[str, Any] = {"message": message}
        if len(args) == 2:
            self.error_args["data"] = args[1]
        elif len(args) > 2:
            self.error_args["data"] = list(args[1:])


class TimeoutError(SocketIOError):
    """An acknowledgement did not arrive in time."""


class AcksMissingError(TimeoutError):
    """Raised by ``AsyncServer.emit_with_ack`` when not every recipient acknowledged.

    ``responses`` holds the answers that did arrive, in arrival order; ``expected`` is how many
    recipients were sent the event; ``disconnected`` how many of them left before answering. It is
    raised at the timeout, or earlier once every recipient still connected has answered.
    """

    def __init__(self, message: str, responses: list[Any], expected: int, disconnected: int = 0) -> None:
        super().__init__(message)
        self.responses = responses
        self.expected = expected
        self.disconnected = disconnected


class BadNamespaceError(SocketIOError):
    """The namespace is not connected (or not known)."""


class DisconnectedError(SocketIOError):
    """The connection ended while an acknowledgement was still awaited."""

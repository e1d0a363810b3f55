"""The connection request as the layers above the engine see it: python-socketio's ``environ``.

A session keeps whatever its transport opened it with (:attr:`EngineSession.request`): an aiohttp
request, an ASGI request, or a plain environ dict (an in-process test client). The environ is
built from it only when asked (most apps never read it, and an idle connection should not hold
it). :func:`environ_of` is the one way to get it, whatever the transport.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

Environ = dict[str, Any]
EnvironBuilder = Callable[[Any], Environ]

#: Builders for request types that cannot carry their own (aiohttp's), registered by their transport.
_builders: dict[type, EnvironBuilder] = {}


@runtime_checkable
class EnvironSource(Protocol):
    """A transport's request object that builds its own environ (the ASGI request does)."""

    def environ(self) -> Environ:
        """The WSGI-style environ of the request that opened the connection."""
        ...


def register_environ_builder(request_type: type, builder: EnvironBuilder) -> None:
    """Say how the environ of a ``request_type`` (and its subclasses) is built."""
    _builders[request_type] = builder


def environ_of(request: object) -> Environ:
    """The environ of a connection request: a dict is one already; an :class:`EnvironSource`
    builds its own; other types use the builder their transport registered."""
    if isinstance(request, dict):
        return request
    if isinstance(request, EnvironSource):
        return request.environ()
    for cls in type(request).__mro__:
        builder = _builders.get(cls)
        if builder is not None:
            return builder(request)
    raise TypeError(f"no environ for a connection request of type {type(request).__name__}")

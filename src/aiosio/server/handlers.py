"""Handler registry and lookup with python-socketio's rules, and calling handlers of any arity."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .namespace import AsyncNamespace

Handler = Callable[..., Any]

#: Events that come from the library, never from a client; catch-alls do not receive them.
RESERVED = frozenset({"connect", "connect_error", "disconnect"})


@lru_cache(maxsize=1024)
def positional_capacity(fn: Callable[..., Any]) -> int:
    """How many positional arguments ``fn`` accepts (a large number for ``*args``)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1_000
    count = 0
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            return 1_000
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


class HandlerRegistry:
    """Function handlers by namespace and event, and class-based namespace handlers."""

    def __init__(self) -> None:
        self.handlers: dict[str, dict[str, Handler]] = {}
        self.namespace_handlers: dict[str, AsyncNamespace] = {}

    def add(self, namespace: str, event: str, handler: Handler) -> None:
        """Register ``handler`` for ``event`` in ``namespace`` (either may be ``'*'``)."""
        self.handlers.setdefault(namespace, {})[event] = handler

    def find(
        self, namespace: str, event: str, args: tuple[Any, ...]
    ) -> tuple[Handler | None, tuple[Any, ...]]:
        """The handler for an event and the arguments it takes, in python-socketio's order.

        ``handlers[ns][event]``, then ``handlers[ns]['*']`` (gets the event name first), then
        ``handlers['*'][event]`` (gets the namespace first), then ``handlers['*']['*']`` (both), and
        finally a class-based namespace handler (``namespace_handlers[ns]``, then ``['*']``, which
        gets the namespace first): its ``on_<event>`` method, or its ``trigger_event`` with the event
        name first when the class overrides ``trigger_event``.
        """
        handlers = self.handlers
        by_ns = handlers.get(namespace)
        if by_ns is not None:
            handler = by_ns.get(event)
            if handler is not None:
                return handler, args
            if event not in RESERVED and "*" in by_ns:
                return by_ns["*"], (event, *args)
        any_ns = handlers.get("*")
        if any_ns is not None:
            handler = any_ns.get(event)
            if handler is not None:
                return handler, (namespace, *args)
            if event not in RESERVED and "*" in any_ns:
                return any_ns["*"], (event, namespace, *args)
        ns_handler = self.namespace_handlers.get(namespace)
        if ns_handler is None:
            ns_handler = self.namespace_handlers.get("*")
            if ns_handler is None:
                return None, args
            args = (namespace, *args)
        if ns_handler.custom_dispatch:
            # The class overrides trigger_event (per-namespace middleware): every event goes
            # through it, as python-socketio does, including those with no on_<event> method.
            return ns_handler.trigger_event, (event, *args)
        method = ns_handler.handler_for(event)
        return (method, args) if method is not None else (None, args)

    def knows_namespace(self, namespace: str) -> bool:
        """True if a handler of any kind is registered for ``namespace``."""
        return namespace in self.handlers or namespace in self.namespace_handlers

"""Finding and calling application handlers, with python-socketio's lookup rules.

Lookup order for ``event`` on ``namespace``:

1. ``handlers[namespace][event]`` — called with the event's arguments;
2. ``handlers[namespace]['*']`` — the catch-all, called with ``(event, *args)``;
3. only if nothing at all is registered for ``namespace``:
   ``handlers['*'][event]`` with ``(namespace, *args)``, then ``handlers['*']['*']`` with
   ``(event, namespace, *args)``;
4. otherwise a class-based namespace: ``namespace_handlers[namespace]``, or
   ``namespace_handlers['*']`` with ``(namespace, *args)``.

Catch-alls never receive the lifecycle events ``connect``, ``connect_error`` and ``disconnect``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

#: Events that only explicitly registered handlers receive.
LIFECYCLE_EVENTS = frozenset({"connect", "connect_error", "disconnect"})

Handler = Callable[..., Any]


def find_handler(
    handlers: dict[str, dict[str, Handler]], event: str, namespace: str, args: tuple[Any, ...]
) -> tuple[Handler | None, tuple[Any, ...]]:
    """The function handler for ``event`` and the arguments to call it with (rules 1-3)."""
    by_event = handlers.get(namespace)
    if by_event is not None:
        if event in by_event:
            return by_event[event], args
        if event not in LIFECYCLE_EVENTS and "*" in by_event:
            return by_event["*"], (event, *args)
        return None, args
    wildcard = handlers.get("*")
    if wildcard is not None:
        if event in wildcard:
            return wildcard[event], (namespace, *args)
        if event not in LIFECYCLE_EVENTS and "*" in wildcard:
            return wildcard["*"], (event, namespace, *args)
    return None, args


def accepts(handler: Handler, nargs: int) -> bool:
    """Whether ``handler`` can be called with ``nargs`` positional arguments."""
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):  # builtins without a signature: assume they can
        return True
    try:
        signature.bind(*range(nargs))
    except TypeError:
        return False
    return True


def disconnect_args(handler: Handler, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Arguments for a ``disconnect`` handler: with the reason, unless it predates the reason argument.

    python-socketio retries after any TypeError, which also swallows TypeErrors raised inside the
    handler; checking the signature first does not.
    """
    if args and not accepts(handler, len(args)) and accepts(handler, len(args) - 1):
        return args[:-1]
    return args

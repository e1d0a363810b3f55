"""Letting go of what aiohttp keeps per WebSocket connection that the connection no longer needs.

Once aiohttp has written the 101 answer and handed the connection's bytes to its WebSocket reader,
some per-request objects of its HTTP side stay alive as long as the connection does, used by
nothing: the HTTP request parser (its C state and buffers), the queue of parsed requests waiting for
the handler (empty, and never fed again: after an upgrade every byte goes to the WebSocket reader),
and the writer's random-mask source (a server never masks its frames), send lock and task set (for
compressed frames, which aiosio never sends through it). :func:`release_after_upgrade` drops them:
about 3 KiB per idle connection (of 16). The 101's response headers stay: they are already written
and aiohttp does not read them again, but an access-log format's ``%{Name}o`` fields and a
middleware wrapping the route read them after the handler.

These are aiohttp private attributes (as aiohttp 3.14 has them: the dependency floor is 3.14).
This module is the one place aiosio touches them for that, and it does nothing at all when one of
them is missing or not in the state it expects: a future aiohttp only costs the memory again.
``tests/unit/test_aiohttp_compat.py`` fails loudly if an aiohttp upgrade renames them. What the
application can read (the request, its headers and query, the environ built from them, the
response's headers) is untouched.
"""

from __future__ import annotations

import asyncio
import random
from functools import partial
from typing import Any

from aiohttp import web

__all__ = ["release_after_upgrade"]

#: What replaces a released connection's empty queue of parsed requests: empty, and shared. aiohttp
#: only reads it after an upgrade (``not queue``, ``len(queue)``); it would append to it only when no
#: WebSocket reader is set, which a connection past its 101 never goes back to.
_NO_MESSAGES: tuple[()] = ()

#: One random-mask source for every server-side writer (each makes its own ``partial``, unused: only
#: a client masks its frames).
_SHARED_RANDOM_BITS = partial(random.Random().getrandbits, 32)

#: What replaces an uncompressed writer's send lock and background-task set, which only compressed
#: frames use (one of each per connection otherwise).
_UNUSED_LOCK = asyncio.Lock()
_UNUSED_TASKS: set[asyncio.Task[None]] = set()


def release_after_upgrade(request: web.BaseRequest, ws: web.WebSocketResponse) -> None:
    """Drop aiohttp's per-request objects that the prepared WebSocket ``ws`` of ``request`` no
    longer needs (see the module text); a no-op for whatever is not as expected."""
    handler: Any = request.protocol
    if (
        getattr(handler, "_upgraded", None) is True
        and getattr(handler, "_payload_parser", None) is not None
        and getattr(handler, "_parser", None) is not None
        and not getattr(handler, "_messages", True)
    ):
        handler._parser = None
        handler._messages = _NO_MESSAGES
    writer: Any = getattr(ws, "_writer", None)
    if writer is None:
        return
    if getattr(writer, "use_mask", True) is False and hasattr(writer, "get_random_bits"):
        writer.get_random_bits = _SHARED_RANDOM_BITS
    if (
        getattr(writer, "compress", None) == 0
        and isinstance(getattr(writer, "_send_lock", None), asyncio.Lock)
        and getattr(writer, "_background_tasks", None) == set()
    ):
        # Both serve compressed frames only; this writer never compresses (aiosio writes its frames
        # to the transport itself, and only control frames go through this writer).
        writer._send_lock = _UNUSED_LOCK
        writer._background_tasks = _UNUSED_TASKS

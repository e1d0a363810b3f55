"""Start handler coroutines as Tasks, eagerly where Python can do it safely.

On Python 3.12+ a handler starts as an eager Task (``eager_start=True``): it runs at once, inside its
own Task and context, and one that finishes without suspending (an echo, an emit, a broadcast) never
goes through the event loop's queue, which keeps the hot path short and events from one connection
starting in arrival order. Python 3.11 has no safe way to do that (code before the first ``await``
would run in the connection's Task, where ``asyncio.timeout()``, TaskGroups and aiohttp's client
timeouts would cancel the connection instead of the handler), so there every handler is a Task.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

#: Whether handlers start eagerly (Python 3.12+).
EAGER = sys.version_info >= (3, 12)


def start_task(
    loop: asyncio.AbstractEventLoop,
    coro: Coroutine[Any, Any, T],
    on_done: Callable[[T | None, BaseException | None], None],
) -> asyncio.Task[T] | None:
    """Run ``coro`` in a Task and call ``on_done(result, None)`` or ``on_done(None, exc)`` once.

    Returns None if the Task already finished (eager start) and ``on_done`` was called, else the
    running Task.
    """
    if sys.version_info >= (3, 12):
        task: asyncio.Task[T] = asyncio.Task(coro, loop=loop, eager_start=True)
    else:
        task = loop.create_task(coro)
    if task.done():
        _report(task, on_done)
        return None
    task.add_done_callback(lambda t: _report(t, on_done))
    return task


def _report(task: asyncio.Task[T], on_done: Callable[[T | None, BaseException | None], None]) -> None:
    if task.cancelled():
        on_done(None, asyncio.CancelledError())
    elif (exc := task.exception()) is not None:
        on_done(None, exc)
    else:
        on_done(task.result(), None)

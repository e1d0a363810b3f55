"""Start a handler coroutine inline and only make a Task if it really suspends.

Most event handlers (an echo, an emit, a broadcast) finish without ever waiting on I/O. Running their
first step inline, as Python 3.12's eager task factory does, saves a Task and two loop iterations per
event and keeps events from one connection in arrival order; a handler that does suspend continues
in an ordinary Task from where it stopped.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")


@types.coroutine
def _resume(coro: Coroutine[Any, Any, T], first: Any) -> Generator[Any, Any, T]:
    # Hand the awaitable the coroutine stopped on to the Task, then let `yield from` drive the rest:
    # the Task sends None (or throws) exactly as it would have into the coroutine itself.
    try:
        yield first
    except BaseException as exc:
        try:
            first = coro.throw(exc)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        return (yield from _resume(coro, first))
    return (yield from coro.__await__())


async def _continue(coro: Coroutine[Any, Any, T], first: Any) -> T:
    return await _resume(coro, first)


def run_eager(
    loop: asyncio.AbstractEventLoop,
    coro: Coroutine[Any, Any, T],
    on_done: Callable[[T | None, BaseException | None], None],
) -> asyncio.Task[T] | None:
    """Run ``coro`` until it first suspends; if it finishes, call ``on_done`` at once.

    Returns None when it finished inline, or the Task that carries on with it (``on_done`` is then
    called when that Task ends). ``on_done`` gets ``(result, None)`` or ``(None, exception)``.
    """
    try:
        first = coro.send(None)
    except StopIteration as stop:
        on_done(stop.value, None)
        return None
    except Exception as exc:
        on_done(None, exc)
        return None
    return continue_in_task(loop, coro, first, on_done)


def continue_in_task(
    loop: asyncio.AbstractEventLoop,
    coro: Coroutine[Any, Any, T],
    first: Any,
    on_done: Callable[[T | None, BaseException | None], None],
) -> asyncio.Task[T]:
    """Carry on with a coroutine that suspended on ``first`` (what its ``send(None)`` returned)."""
    task = loop.create_task(_continue(coro, first))

    def done(t: asyncio.Task[T]) -> None:
        if t.cancelled():
            on_done(None, asyncio.CancelledError())
        elif (exc := t.exception()) is not None:
            on_done(None, exc)
        else:
            on_done(t.result(), None)

    task.add_done_callback(done)
    return task

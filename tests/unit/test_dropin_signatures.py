"""aiosio's public classes against python-socketio 5.18's installed ones: the same names, parameters
(names, order, defaults), and the same async-ness, so ``import aiosio as socketio`` code calls them
the same way. Every difference allowed here is deliberate and carries its reason."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import engineio
import pytest
import socketio

import aiosio
import aiosio.engineio

_EMPTY = inspect.Parameter.empty

#: (our class, their class, label) pairs compared method by method.
PAIRS: list[tuple[type, type, str]] = [
    (aiosio.AsyncServer, socketio.AsyncServer, "AsyncServer"),
    (aiosio.AsyncNamespace, socketio.AsyncNamespace, "AsyncNamespace"),
    (aiosio.AsyncManager, socketio.AsyncManager, "AsyncManager"),
    (aiosio.engineio.AsyncServer, engineio.AsyncServer, "engineio.AsyncServer"),
    (aiosio.AsyncRedisManager, socketio.AsyncRedisManager, "AsyncRedisManager"),
]

#: Pairs that still differ where they must not: each a defect reported to its owner, with what is
#: left to do. ``xfail(strict=True)``: once fixed, the pass fails the run and the entry goes.
KNOWN_GAPS: dict[str, str] = {}

#: Public methods of python-socketio / python-engineio aiosio leaves out, and why.
MISSING: dict[str, str] = {
    "AsyncManager.pre_connect": (
        "the server registers a socket itself when its CONNECT arrives; there is no pre-connect "
        "step for a subclass to take over (see docs/migration.md)"
    ),
    "AsyncRedisManager.pre_connect": "an AsyncManager: the same reason as AsyncManager.pre_connect",
}

#: Parameters whose default aiosio changes on purpose, and why.
DEFAULTS: dict[str, dict[str, str]] = {
    "AsyncRedisManager.__init__": {
        "channel": (
            "'socket.io', the channel prefix (key) of Node's Redis adapters, so an aiosio node joins a "
            "Node cluster as configured by default; python-socketio's 'socketio' names its own wire "
            "format, which aiosio does not speak (docs/migration.md)"
        ),
    },
}

#: Parameters aiosio adds after python-socketio's (keyword arguments with defaults), and why.
EXTRA: dict[str, dict[str, str]] = {
    "AsyncServer.emit": {"volatile": "aiosio's volatile emits (dropped when the client can't take them)"},
    "AsyncNamespace.emit": {"volatile": "the same argument as AsyncServer.emit, which it wraps"},
    "AsyncRedisManager.__init__": {
        "mode": "'classic', 'sharded' or 'streams': which of Node's Redis adapters' wire formats to speak",
        "request_timeout": "Node's requestsTimeout: how long cluster queries wait for other servers",
        "publish_on_specific_response_channel": "Node's publishOnSpecificResponseChannel (classic)",
        "subscription_mode": "Node's subscriptionMode of the sharded adapter",
        "cluster": "connect to a Redis Cluster (the sharded and streams modes)",
        "stream_name": "Node's streamName (the streams adapter)",
        "stream_count": "Node's streamCount (the streams adapter)",
        "max_len": "Node's maxLen (the streams adapter)",
        "read_count": "Node's readCount (the streams adapter)",
        "block_time_ms": "Node's blockTimeInMs (the streams adapter)",
        "session_key_prefix": "Node's sessionKeyPrefix (the streams adapter's recovery sessions)",
        "only_plaintext": "Node's onlyPlaintext (the streams adapter)",
        "use_sharded_pubsub": "Node's useShardedPubSub (the streams adapter)",
    },
}

# Where python-socketio takes **kwargs (AsyncServer's Engine.IO options), aiosio may also name some
# of those keywords explicitly, after python-socketio's own parameters; **kwargs must remain.


def _params(fn: Callable[..., Any]) -> list[inspect.Parameter]:
    params = list(inspect.signature(fn).parameters.values())
    if params and params[0].name == "self":
        params = params[1:]
    return params


def _public_methods(cls: type) -> list[str]:
    names = []
    for name in dir(cls):
        if name.startswith("_") and name != "__init__":
            continue
        if callable(inspect.getattr_static(cls, name)) and not isinstance(getattr(cls, name), type):
            names.append(name)
    return names


def _compare(label: str, ours: Callable[..., Any], theirs: Callable[..., Any]) -> list[str]:
    """Every difference between the two signatures that is not allowed in :data:`EXTRA`."""
    problems: list[str] = []
    mine, ref = _params(ours), _params(theirs)
    ref_var_kw = any(p.kind is p.VAR_KEYWORD for p in ref)
    ref_named = [p for p in ref if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    mine_named = [p for p in mine if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    for i, want in enumerate(ref_named):
        if i >= len(mine_named):
            problems.append(f"{label}: missing parameter {want.name!r}")
            continue
        got = mine_named[i]
        if got.name != want.name:
            problems.append(f"{label}: parameter {i} is {got.name!r}, python-socketio has {want.name!r}")
        elif got.default != want.default and got.name not in DEFAULTS.get(label, {}):
            problems.append(
                f"{label}: {got.name}={got.default!r}, python-socketio has {got.name}={want.default!r}"
            )
    allowed = EXTRA.get(label, {})
    for got in mine_named[len(ref_named) :]:
        if got.default is _EMPTY:
            problems.append(f"{label}: extra required parameter {got.name!r}")
        elif got.name not in allowed and not ref_var_kw:
            problems.append(f"{label}: extra parameter {got.name!r} not listed in EXTRA")
    for kind, spelled in (
        (inspect.Parameter.VAR_POSITIONAL, "*args"),
        (inspect.Parameter.VAR_KEYWORD, "**kwargs"),
    ):
        if any(p.kind is kind for p in ref) and not any(p.kind is kind for p in mine):
            problems.append(f"{label}: python-socketio takes {spelled}, aiosio does not")
    if inspect.iscoroutinefunction(ours) != inspect.iscoroutinefunction(theirs):
        kind = "a coroutine" if inspect.iscoroutinefunction(theirs) else "not a coroutine"
        problems.append(f"{label}: python-socketio's is {kind}, aiosio's is not the same")
    return problems


@pytest.mark.parametrize(
    ("ours", "theirs", "name"),
    [
        pytest.param(
            *pair,
            id=pair[2],
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[pair[2]])]
            if pair[2] in KNOWN_GAPS
            else [],
        )
        for pair in PAIRS
    ],
)
def test_every_public_method_is_there_with_the_same_signature(ours: type, theirs: type, name: str) -> None:
    """Each public method of the python-socketio class exists in aiosio's with the same signature."""
    problems: list[str] = []
    for method in _public_methods(theirs):
        label = f"{name}.{method}"
        if label in MISSING:
            assert not hasattr(ours, method), f"{label} is listed as missing but exists"
            continue
        if not hasattr(ours, method):
            problems.append(f"{label}: missing")
            continue
        problems.extend(_compare(label, getattr(ours, method), getattr(theirs, method)))
    assert problems == []


#: Wrappers of AsyncNamespace that differ from the AsyncServer method they wrap, as python-socketio's do.
WRAPPER_DIFFERENCES: dict[str, str] = {
    "call": "timeout defaults to None (wait forever) in python-socketio's AsyncNamespace, 60 in AsyncServer",
    "disconnect": "python-socketio's AsyncNamespace.disconnect has no ignore_queue",
}


@pytest.mark.parametrize(
    "method",
    [
        "emit",
        "send",
        "call",
        "enter_room",
        "leave_room",
        "close_room",
        "rooms",
        "get_session",
        "save_session",
        "session",
        "disconnect",
    ],
)
def test_namespace_wrappers_take_what_the_server_method_takes(method: str) -> None:
    """AsyncNamespace.X has AsyncServer.X's parameters and defaults (except python-socketio's own
    differences, listed with their reason)."""
    wrapper = _params(getattr(aiosio.AsyncNamespace, method))
    wrapped = _params(getattr(aiosio.AsyncServer, method))
    shape = [(p.name, p.default) for p in wrapper]
    target = [(p.name, p.default) for p in wrapped]
    if method == "call":
        assert shape == [(n, None if n == "timeout" else d) for n, d in target]
        assert dict(target)["timeout"] == 60
    elif method == "disconnect":
        assert shape == [t for t in target if t[0] != "ignore_queue"]
    else:
        assert shape == target
    assert inspect.iscoroutinefunction(getattr(aiosio.AsyncNamespace, method)) == inspect.iscoroutinefunction(
        getattr(aiosio.AsyncServer, method)
    )


def test_the_allowed_differences_are_still_differences() -> None:
    """Each EXTRA entry names a parameter python-socketio really lacks (a stale entry fails)."""
    for label, extras in EXTRA.items():
        cls_name, method = label.rsplit(".", 1)
        theirs = next(t for _o, t, n in PAIRS if n == cls_name)
        ours = next(o for o, _t, n in PAIRS if n == cls_name)
        their_names = {p.name for p in _params(getattr(theirs, method))}
        our_names = {p.name for p in _params(getattr(ours, method))}
        for extra in extras:
            assert extra not in their_names, f"{label}.{extra} is no longer an extra"
            assert extra in our_names, f"{label}.{extra} is listed but aiosio lacks it"
    assert set(WRAPPER_DIFFERENCES) == {"call", "disconnect"}
    for label, names in DEFAULTS.items():
        cls_name, method = label.rsplit(".", 1)
        theirs = dict(_by_name(next(t for _o, t, n in PAIRS if n == cls_name), method))
        ours = dict(_by_name(next(o for o, _t, n in PAIRS if n == cls_name), method))
        for name in names:
            assert ours[name] != theirs[name], f"{label}.{name} has python-socketio's default again"


def _by_name(cls: type, method: str) -> list[tuple[str, Any]]:
    return [(p.name, p.default) for p in _params(getattr(cls, method))]


def test_async_redis_manager_takes_python_socketio_s_arguments_first() -> None:
    """python-socketio's AsyncRedisManager parameters are a prefix of aiosio's (names, order,
    defaults but the DEFAULTS listed), each of aiosio's own after them has a default and is
    keyword-only, so every call python-socketio accepts means the same here."""
    theirs = _by_name(socketio.AsyncRedisManager, "__init__")
    ours = _params(aiosio.AsyncRedisManager.__init__)
    changed = DEFAULTS["AsyncRedisManager.__init__"]
    assert [p.name for p in ours[: len(theirs)]] == [n for n, _ in theirs]
    for (name, default), got in zip(theirs, ours, strict=False):
        assert got.default == default or name in changed, name
    for extra in ours[len(theirs) :]:
        assert extra.kind is inspect.Parameter.KEYWORD_ONLY and extra.default is not _EMPTY, extra.name

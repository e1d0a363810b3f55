"""``aiosio client URL``: a Socket.IO client for the command line and for scripts.

Connects to ``URL`` (a path in the URL names the namespace, as in the JavaScript client), then
runs the ``--emit``/``--call`` actions in command-line order, then (with ``--listen``) prints
every incoming event until ``--count`` events, ``--duration`` seconds, or Ctrl+C.

Standard output carries only JSON, one object per line:

* ``{"event": "<name>", "ack": [...]}`` for each acknowledgement of ``--emit``/``--call``;
* ``{"event": "<name>", "args": [...]}`` for each incoming event with ``--listen``.

Binary arguments appear as ``{"$binary": "<base64>"}``. Status and errors go to standard error.

Exit status (see :data:`EXIT_CODES`): 0 success, 1 connection failure, bad URL or connection
lost, 2 usage error (including malformed JSON), 3 no acknowledgement to ``--call`` within
``--timeout``, 4 connection refused by the server (``connect_error``), 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import signal
import sys
import urllib.parse
from typing import Any

__all__ = [
    "EXIT_CODES",
    "EXIT_CONNECTION",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "ActionAppend",
    "parse_header",
    "parse_url",
    "run_client",
]

EXIT_OK = 0
EXIT_CONNECTION = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 3
EXIT_REFUSED = 4
EXIT_INTERRUPTED = 130

#: Exit status -> meaning, as documented in ``aiosio client --help``.
EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_CONNECTION: "could not connect (bad URL, unreachable) or the connection was lost",
    EXIT_USAGE: "usage error (bad option, malformed JSON or header)",
    EXIT_TIMEOUT: "no acknowledgement to --call within --timeout",
    EXIT_REFUSED: "the server refused the connection (connect_error)",
    EXIT_INTERRUPTED: "interrupted before the actions finished",
}


class _Failure(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ActionAppend(argparse.Action):
    """``--emit``/``--call EVENT [JSON ...]``: append ``(kind, event, args)`` to ``actions``.

    One shared list keeps the command-line order across both options. Each JSON value is one
    argument of the event; malformed JSON is a usage error (exit status 2).
    """

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        """Parse and record one action."""
        event, *raw_args = values
        args = []
        for raw in raw_args:
            try:
                args.append(json.loads(raw))
            except ValueError:
                parser.error(
                    f"{option_string} {event}: {raw!r} is not valid JSON "
                    """(strings need quotes, for example '"hello"')"""
                )
        actions = list(getattr(namespace, "actions", None) or [])
        actions.append((self.dest, event, args))
        namespace.actions = actions


def parse_header(text: str) -> tuple[str, str]:
    """Parse ``"Name: value"`` (for ``--header``); raise ``ValueError`` if malformed."""
    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep or not name or any(c in name for c in " \t\r\n") or any(c in value for c in "\r\n"):
        raise ValueError(f"expected 'Name: value', got {text!r}")
    return name, value.strip()


def parse_url(url: str) -> tuple[str, str | None]:
    """Split a Socket.IO URL into ``(server URL, namespace or None)``.

    Accepts ``http``, ``https``, ``ws`` and ``wss`` (the last two are mapped to the first two,
    since the connection starts with HTTP long-polling unless ``--transport websocket``). The
    path, if any, is the namespace, as with the JavaScript client's ``io("http://host/chat")``.
    Raises ``ValueError`` with a readable message for anything else.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or non-numeric
    except ValueError as exc:
        raise ValueError(f"invalid URL {url!r}: {exc}") from None
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme.lower(), parts.scheme.lower())
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"invalid URL {url!r}: expected http(s)://host[:port][/namespace] (ws:// and wss:// work too)"
        )
    path = parts.path.rstrip("/")
    namespace = path or None
    base = urllib.parse.urlunsplit((scheme, parts.netloc, "", parts.query, ""))
    return base, namespace


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$binary": base64.b64encode(bytes(value)).decode("ascii")}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _emit_line(obj: dict[str, Any]) -> bool:
    """Print one JSON line; False once the reader has gone (e.g. piped into ``head -1``)."""
    try:
        print(json.dumps(obj, ensure_ascii=False, default=_json_default), flush=True)
    except BrokenPipeError:
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return False
    return True


async def _client_main(args: argparse.Namespace) -> int:
    import aiosio

    quiet: bool = args.quiet

    def status(message: str) -> None:
        if not quiet:
            print(f"aiosio client: {message}", file=sys.stderr, flush=True)

    def error(message: str) -> None:  # shown even with --quiet
        print(f"aiosio client: error: {message}", file=sys.stderr, flush=True)

    try:
        url, url_namespace = parse_url(args.url)
    except ValueError as exc:
        error(str(exc))
        return EXIT_CONNECTION
    if args.namespace and url_namespace and args.namespace != url_namespace:
        error(f"namespace {args.namespace!r} differs from the URL's {url_namespace!r}")
        return EXIT_USAGE
    namespace = args.namespace or url_namespace or "/"
    transports = None if args.transport == "auto" else [args.transport]
    listen = args.listen or args.count is not None or args.duration is not None

    # Reconnection is off unless asked for: a script wants a lost connection to end the run.
    # handle_sigint=False: Ctrl+C is ours to handle (see below), not the client library's.
    client = aiosio.AsyncClient(reconnection=args.reconnect, logger=args.verbose, handle_sigint=False)
    loop = asyncio.get_running_loop()
    finished = asyncio.Event()  # --count reached
    lost = asyncio.Event()  # the server went away
    refusals: list[Any] = []
    received = 0
    closing = False

    async def on_event(event: str, *event_args: Any) -> None:
        nonlocal received
        if finished.is_set():
            return
        if not _emit_line({"event": event, "args": list(event_args)}):
            finished.set()  # the reader has what it wanted
            return
        received += 1
        if args.count is not None and received >= args.count:
            finished.set()

    async def on_connect_error(*data: Any) -> None:
        refusals.extend(data)

    async def on_disconnect(*reason: Any) -> None:
        if not closing and not args.reconnect:
            lost.set()

    if listen:
        client.on("*", on_event, namespace=namespace)
    client.on("connect_error", on_connect_error, namespace=namespace)
    client.on("disconnect", on_disconnect, namespace=namespace)

    # Ctrl+C / SIGTERM cancel this task; where we were decides between exit 0 and 130.
    main_task = asyncio.current_task()
    assert main_task is not None

    def install_signal_handlers() -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, main_task.cancel)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # Windows: Ctrl+C arrives as KeyboardInterrupt instead

    install_signal_handlers()

    phase = "connect"
    try:
        try:
            await client.connect(
                url,
                headers=dict(args.headers),
                auth=args.auth,
                transports=transports,
                namespaces=[namespace],
                socketio_path=args.path,
                wait_timeout=args.timeout,
            )
        except Exception as exc:
            if not _is_connection_error(exc, aiosio.exceptions.ConnectionError):
                raise
            reason = _refusal_reason(refusals, str(exc))
            if reason is not None:
                raise _Failure(EXIT_REFUSED, f"the server refused the connection: {reason}") from None
            raise _Failure(EXIT_CONNECTION, f"cannot connect to {args.url}: {exc}") from None
        install_signal_handlers()  # again, in case connecting replaced them
        status(f"connected to {url} (namespace {namespace})")

        phase = "actions"
        for kind, event, event_args in args.actions or []:
            ack = await _send(client, loop, event, event_args, namespace, args.timeout, lost)
            if ack is None:
                if kind == "call":
                    raise _Failure(EXIT_TIMEOUT, f"no acknowledgement for {event!r} within {args.timeout:g}s")
                status(f"no acknowledgement for {event!r} within {args.timeout:g}s")
            else:
                _emit_line({"event": event, "ack": ack})

        if listen:
            phase = "listen"
            waiters = [asyncio.ensure_future(finished.wait()), asyncio.ensure_future(lost.wait())]
            try:
                await asyncio.wait(waiters, timeout=args.duration, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
        if lost.is_set() and not finished.is_set():
            raise _Failure(EXIT_CONNECTION, "the connection was closed by the server")
        return EXIT_OK
    except _Failure as exc:
        error(str(exc))
        return exc.status
    except asyncio.CancelledError:
        if phase == "listen":
            return EXIT_OK  # Ctrl+C is how a listener normally stops
        status("interrupted")
        return EXIT_INTERRUPTED
    finally:
        closing = True
        try:
            await asyncio.wait_for(client.disconnect(), timeout=5)
        except Exception:
            logging.getLogger("aiosio.cli").debug("disconnect failed", exc_info=True)


def _is_connection_error(exc: BaseException, expected: type[BaseException]) -> bool:
    return isinstance(exc, (expected, OSError))


def _refusal_reason(payloads: list[Any], error: str) -> str | None:
    """The server's reason if a failed connect was a refusal by the server, else None.

    A refusal is a ``connect_error`` carrying the server's payload: an object with a
    ``"message"`` (Socket.IO v5, as Node and python-socketio send for a rejected ``auth``) or
    a server-chosen string. A transport failure (refused TCP connection, 404...) is reported
    through the same event with the client's own error text, which is how the two differ.
    """
    for payload in payloads:
        if isinstance(payload, dict) and "message" in payload:
            return str(payload["message"])
        if isinstance(payload, str) and payload and payload != error:
            return payload
    return None


async def _send(
    client: Any,
    loop: asyncio.AbstractEventLoop,
    event: str,
    event_args: list[Any],
    namespace: str,
    timeout: float,
    lost: asyncio.Event,
) -> list[Any] | None:
    """Emit one event asking for an acknowledgement; its arguments, or None on timeout."""
    ack: asyncio.Future[list[Any]] = loop.create_future()

    def on_ack(*values: Any) -> None:
        if not ack.done():
            ack.set_result(list(values))

    # A tuple always means "these are the arguments", so zero, one (even null) or many work.
    await client.emit(event, tuple(event_args), namespace=namespace, callback=on_ack)
    lost_waiter: asyncio.Future[Any] = asyncio.ensure_future(lost.wait())
    waiters: list[asyncio.Future[Any]] = [ack, lost_waiter]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        lost_waiter.cancel()
    if ack.done():
        return ack.result()
    if lost.is_set():
        raise _Failure(EXIT_CONNECTION, "the connection was closed by the server")
    return None


def run_client(args: argparse.Namespace) -> int:
    """Run ``aiosio client``; return the process exit status."""
    from .runner import run_with_loop

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.CRITICAL,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.auth is not None:
        try:
            args.auth = json.loads(args.auth)
        except ValueError:
            args.auth = None
        if not isinstance(args.auth, dict):
            print("aiosio client: error: --auth must be a JSON object", file=sys.stderr)
            return EXIT_USAGE
    try:
        return run_with_loop(_client_main(args), "asyncio")
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED

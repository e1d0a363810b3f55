"""The ``aiosio`` command: ``serve`` (the demo), ``run`` (your app) and ``client``.

Each subcommand lives in its own module, imported only when it runs, so ``aiosio --help`` and
``aiosio client`` do not pay for importing the server side.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import _compiled

__all__ = ["build_parser", "main"]

_DEFAULT_HOST = "127.0.0.1"
_DEFAULT_PORT = 8080


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aiosio")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range (0-65535): {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0: {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _workers(text: str) -> int:
    if text == "auto":
        return 0
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of workers: {text!r} (a number, or 'auto')") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 ('auto': one per core) or more: {text!r}")
    return value


def _header(text: str) -> tuple[str, str]:
    from .client import parse_header

    try:
        return parse_header(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _namespace(text: str) -> str:
    return text if text.startswith("/") else "/" + text


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    from .runner import LOG_LEVELS, LOOPS

    parser.add_argument("--host", default=_DEFAULT_HOST, help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port",
        type=_port,
        default=_DEFAULT_PORT,
        help="port to listen on; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="info",
        help="log level on stderr (default: %(default)s)",
    )
    parser.add_argument(
        "--loop",
        choices=LOOPS,
        default="auto",
        help="event loop; auto uses uvloop when it is installed (default: %(default)s)",
    )
    parser.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="do not log one line per HTTP request",
    )
    parser.add_argument(
        "--shutdown-timeout",
        type=_positive_float,
        default=10.0,
        metavar="SECONDS",
        help="on SIGINT/SIGTERM, how long to wait for open requests (default: %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="worker processes sharing the port, no sticky sessions needed; 0 or 'auto': one per "
        "core; SIGHUP replaces them one at a time (default: %(default)s)",
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="with --workers: the workers' cluster goes through this Redis (then workers on several "
        "machines form one cluster); default: an embedded local one",
    )
    parser.add_argument(
        "--metrics",
        nargs="?",
        const="/metrics",
        metavar="PATH",
        help="serve Prometheus metrics at PATH (default /metrics; needs aiosio[metrics]); with "
        "--workers every worker's, labelled worker (docs/metrics.md)",
    )


_CLIENT_EPILOG = """\
stdout carries one JSON object per line:
  {"event": NAME, "ack": [...]}    the acknowledgement of an --emit/--call
  {"event": NAME, "args": [...]}   an incoming event (--listen)
exit status:
  0 success; 1 cannot connect, bad URL or connection lost; 2 usage error;
  3 no ack to --call within --timeout; 4 the server refused the connection;
  130 interrupted
examples:
  aiosio client http://127.0.0.1:8080 --call message '"hello"'
  aiosio client http://127.0.0.1:8080 --listen --count 1
  aiosio client http://127.0.0.1:8080/chat --auth '{"token": "s3cret"}' -H 'X-Trace: 1'
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for ``aiosio`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="aiosio",
        description="aiosio: a fast Socket.IO server and client for Python, on aiohttp.",
    )
    parser.add_argument(
        "--version", action="version", version=f"aiosio {_version()} ({_compiled.describe()})"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the live todo + chat + prices demo",
        description="Run the demo: a todo list kept in sync across pages, a chat with rooms "
        "and a live stock ticker, at http://127.0.0.1:8080 by default. Needs no internet access.",
    )
    _add_server_options(serve)
    serve.add_argument(
        "--db",
        metavar="PATH",
        help="SQLite file for the todos (':memory:' keeps nothing; default: $AIOSIO_DEMO_DB "
        "or $XDG_DATA_HOME/aiosio/demo.sqlite3)",
    )
    serve.add_argument("--open", action="store_true", help="open the page in a web browser")

    run = sub.add_parser(
        "run",
        help="serve your aiohttp Application or aiosio AsyncServer",
        description="Import TARGET ('module:attribute') and serve it: an aiohttp "
        "Application, an aiosio AsyncServer (attached to a new app), or a function returning "
        "either. SIGINT/SIGTERM shut it down gracefully.",
    )
    run.add_argument("target", metavar="TARGET", help="module:attribute, e.g. server:app")
    _add_server_options(run)
    run.add_argument(
        "--app-dir",
        default=".",
        metavar="DIR",
        help="directory to import the module from (default: the current one)",
    )
    run.add_argument(
        "--socketio-path",
        default="socket.io",
        metavar="PATH",
        help="where to attach an AsyncServer target (default: %(default)s)",
    )

    from .client import ActionAppend

    client = sub.add_parser(
        "client",
        help="connect to a Socket.IO server: emit, call, listen",
        description="Connect to a Socket.IO server (aiosio, python-socketio, Node socket.io), "
        "run --emit/--call actions in order, then optionally --listen.",
        epilog=_CLIENT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    client.add_argument(
        "url", metavar="URL", help="server URL; a path selects the namespace (http://h:p/chat)"
    )
    client.add_argument("-n", "--namespace", type=_namespace, help="namespace to connect to (default: /)")
    client.add_argument(
        "-t",
        "--transport",
        choices=("auto", "polling", "websocket"),
        default="auto",
        help="auto = polling, then upgrade to websocket (default: %(default)s)",
    )
    client.add_argument("--auth", metavar="JSON", help="auth payload, a JSON object")
    client.add_argument(
        "-H",
        "--header",
        dest="headers",
        action="append",
        type=_header,
        default=[],
        metavar="'NAME: VALUE'",
        help="extra HTTP header for the connection (repeatable)",
    )
    client.add_argument(
        "--path", default="socket.io", help="the server's Socket.IO path (default: %(default)s)"
    )
    client.add_argument(
        "--emit",
        dest="emit",
        nargs="+",
        action=ActionAppend,
        metavar=("EVENT", "JSON"),
        help="send EVENT with JSON arguments (zero or more); prints the ack if one arrives "
        "within --timeout (repeatable)",
    )
    client.add_argument(
        "--call",
        dest="call",
        nargs="+",
        action=ActionAppend,
        metavar=("EVENT", "JSON"),
        help="like --emit, but the ack is required: exit status 3 without one (repeatable)",
    )
    client.add_argument(
        "--timeout",
        type=_positive_float,
        default=5.0,
        metavar="SECONDS",
        help="for connecting and for each ack (default: %(default)s)",
    )
    client.add_argument("--listen", action="store_true", help="print incoming events until Ctrl+C")
    client.add_argument("--count", type=_positive_int, metavar="N", help="stop listening after N events")
    client.add_argument("--duration", type=_positive_float, metavar="SECONDS", help="listen this long")
    client.add_argument(
        "--reconnect",
        action="store_true",
        help="reconnect if the connection drops (default: exit with status 1)",
    )
    client.add_argument("-q", "--quiet", action="store_true", help="no status lines on stderr")
    client.add_argument("-v", "--verbose", action="store_true", help="log the protocol exchange on stderr")
    client.set_defaults(actions=[])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aiosio`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        from .serve import run_serve

        return run_serve(args)
    if args.command == "run":
        from .run import run_run

        return run_run(args)
    if args.command == "client":
        from .client import run_client

        return run_client(args)
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""``aiosio client`` against running servers: output, acks, listening, and its exit codes."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aiosio.cli.client import EXIT_CODES, parse_header, parse_url

Run = Callable[..., subprocess.CompletedProcess[str]]


def lines(result: subprocess.CompletedProcess[str]) -> list[Any]:
    """stdout as JSON lines (every stdout line must be JSON)."""
    return [json.loads(line) for line in result.stdout.splitlines()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- success paths ---------------------------------------------------------------------------------


def test_emit_and_call_print_acks_in_order(fixture_server: Any, aiosio_cli: Run) -> None:
    result = aiosio_cli(
        "client",
        fixture_server.url,
        "--emit", "echo", '"hello"',
        "--call", "echo", "1", "[2, 3]", '{"four": 4}', "null",
        "--emit", "echo",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert lines(result) == [
        {"event": "echo", "ack": ["hello"]},
        {"event": "echo", "ack": [1, [2, 3], {"four": 4}, None]},
        {"event": "echo", "ack": []},
    ]
    assert "connected to" in result.stderr


@pytest.mark.parametrize("transport", ["polling", "websocket", "auto"])
def test_transports(fixture_server: Any, aiosio_cli: Run, transport: str) -> None:
    result = aiosio_cli("client", fixture_server.url, "-t", transport, "--call", "echo", '"t"', "-q")
    assert result.returncode == 0, result.stderr
    assert lines(result) == [{"event": "echo", "ack": ["t"]}]
    assert result.stderr == ""  # -q: nothing on stderr


def test_auth_headers_and_namespace(fixture_server: Any, aiosio_cli: Run) -> None:
    result = aiosio_cli(
        "client", fixture_server.url, "--auth", '{"user": "ann"}', "-H", "X-Trace: abc 123",
        "--call", "whoami",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert lines(result) == [{"event": "whoami", "ack": [{"auth": {"user": "ann"}, "trace": "abc 123"}]}]

    # The URL's path is the namespace, as in the JavaScript client; -n says the same.
    for args in ([f"{fixture_server.url}/chat"], [fixture_server.url, "-n", "chat"]):
        result = aiosio_cli("client", *args, "--call", "echo", "1")
        assert result.returncode == 0, result.stderr
        assert lines(result) == [{"event": "echo", "ack": ["chat", 1]}]


def test_ws_scheme_is_accepted(fixture_server: Any, aiosio_cli: Run) -> None:
    ws_url = fixture_server.url.replace("http://", "ws://")
    result = aiosio_cli("client", ws_url, "--call", "echo", "true")
    assert result.returncode == 0, result.stderr
    assert lines(result) == [{"event": "echo", "ack": [True]}]


def test_listen_with_count_prints_events_as_json_lines(fixture_server: Any, aiosio_cli: Run) -> None:
    result = aiosio_cli("client", fixture_server.url, "--call", "burst", "3", "--listen", "--count", "3")
    assert result.returncode == 0, result.stderr
    output = lines(result)
    ticks = [o for o in output if o["event"] == "tick"]
    assert [t["args"][0]["i"] for t in ticks] == [0, 1, 2]
    # Binary data is printed as base64.
    assert ticks[0]["args"][0]["bin"] == {"$binary": "AAE="}
    assert {"event": "burst", "ack": ["done"]} in output
    assert len(output) == 4


def test_listen_duration_ends_quietly(fixture_server: Any, aiosio_cli: Run) -> None:
    result = aiosio_cli("client", fixture_server.url, "--listen", "--duration", "0.3")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def wait_for_text(
    path: Path, pattern: re.Pattern[str], proc: subprocess.Popen[bytes], timeout: float
) -> None:
    """Poll ``path`` until ``pattern`` appears (there is no event to await across processes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pattern.search(path.read_text(errors="replace")):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    raise AssertionError(f"{pattern.pattern!r} never appeared in {path}:\n{path.read_text()}")


def _start_listener(url: str, tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], Path, Path]:
    out, err = tmp_path / "listen.out", tmp_path / "listen.err"
    with out.open("wb") as out_f, err.open("wb") as err_f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aiosio.cli.main", "client", url, "--listen", *extra],
            stdout=out_f,
            stderr=err_f,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    return proc, out, err


def test_listen_sees_events_caused_by_others(fixture_server: Any, aiosio_cli: Run, tmp_path: Path) -> None:
    proc, out, err = _start_listener(fixture_server.url, tmp_path, "--count", "1")
    try:
        wait_for_text(err, re.compile("connected to"), proc, 20)
        sender = aiosio_cli("client", fixture_server.url, "--call", "broadcast", '{"headline": "hi"}')
        assert sender.returncode == 0, sender.stderr
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert [json.loads(line) for line in out.read_text().splitlines()] == [
        {"event": "news", "args": [{"headline": "hi"}]}
    ]


def test_ctrl_c_stops_a_listener_with_status_0(fixture_server: Any, tmp_path: Path) -> None:
    proc, _, err = _start_listener(fixture_server.url, tmp_path)
    try:
        wait_for_text(err, re.compile("connected to"), proc, 20)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


# -- failures and their exit codes -----------------------------------------------------------------


@pytest.mark.parametrize("url", ["notaurl", "ftp://127.0.0.1:1", "http://", "http://127.0.0.1:99999"])
def test_bad_url_is_exit_1(aiosio_cli: Run, url: str) -> None:
    result = aiosio_cli("client", url)
    assert result.returncode == 1
    assert "invalid URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_unreachable_server_is_exit_1(aiosio_cli: Run) -> None:
    result = aiosio_cli("client", f"http://127.0.0.1:{free_port()}", "--emit", "x")
    assert result.returncode == 1
    assert "cannot connect to" in result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_socketio_path_is_exit_1(fixture_server: Any, aiosio_cli: Run) -> None:
    result = aiosio_cli("client", fixture_server.url, "--path", "not-socket.io")
    assert result.returncode == 1
    assert "cannot connect to" in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--emit", "x", "{bad"], "not valid JSON"),
        (["--call", "x", "hello"], "strings need quotes"),
        (["-H", "no-colon"], "expected 'Name: value'"),
        (["--auth", "[1]"], "--auth must be a JSON object"),
        (["--auth", "{oops"], "--auth must be a JSON object"),
        (["--timeout", "0"], "must be greater than 0"),
        (["--count", "0"], "must be at least 1"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_usage_errors_are_exit_2(aiosio_cli: Run, args: list[str], fragment: str) -> None:
    result = aiosio_cli("client", "http://127.0.0.1:9", *args)
    assert result.returncode == 2
    assert fragment in result.stderr


def test_conflicting_namespaces_are_exit_2(aiosio_cli: Run) -> None:
    result = aiosio_cli("client", "http://127.0.0.1:9/a", "-n", "/b")
    assert result.returncode == 2
    assert "differs" in result.stderr


def test_call_without_ack_is_exit_3_but_emit_is_not(fixture_server: Any, aiosio_cli: Run) -> None:
    result = aiosio_cli("client", fixture_server.url, "--call", "silent", "--timeout", "0.5")
    assert result.returncode == 3
    assert "no acknowledgement for 'silent'" in result.stderr
    result = aiosio_cli("client", fixture_server.url, "--emit", "silent", "--timeout", "0.5")
    assert result.returncode == 0
    assert result.stdout == ""
    assert "no acknowledgement" in result.stderr


def test_refused_connection_is_exit_4(fixture_server: Any, aiosio_cli: Run) -> None:
    result = aiosio_cli("client", fixture_server.url, "--auth", '{"token": "bad"}')
    assert result.returncode == 4
    assert "refused the connection: bad token" in result.stderr
    result = aiosio_cli("client", fixture_server.url, "-n", "/nowhere")
    assert result.returncode == 4


def test_server_side_disconnect_is_exit_1(fixture_server: Any, aiosio_cli: Run) -> None:
    result = aiosio_cli("client", fixture_server.url, "--emit", "bye", "--listen")
    assert result.returncode == 1
    assert "closed by the server" in result.stderr


# -- against Node's socket.io ----------------------------------------------------------------------


@pytest.mark.interop
def test_against_node_socketio(node_server: Any, aiosio_cli: Run) -> None:
    result = aiosio_cli("client", node_server.url, "--call", "echo", '"hi"', "[1, 2]")
    assert result.returncode == 0, result.stderr
    assert lines(result) == [{"event": "echo", "ack": ["hi", [1, 2]]}]

    result = aiosio_cli("client", node_server.url, "-t", "websocket", "--call", "burst", "2", "--count", "2")
    assert result.returncode == 0, result.stderr
    assert [o for o in lines(result) if o["event"] == "tick"] == [
        {"event": "tick", "args": [{"i": 0}]},
        {"event": "tick", "args": [{"i": 1}]},
    ]

    result = aiosio_cli("client", node_server.url, "--auth", '{"token": "bad"}')
    assert result.returncode == 4
    assert "bad token" in result.stderr

    result = aiosio_cli("client", node_server.url, "--call", "silent", "--timeout", "0.5")
    assert result.returncode == 3


# -- the pure helpers ------------------------------------------------------------------------------


def test_parse_url_and_header() -> None:
    assert parse_url("http://h:1") == ("http://h:1", None)
    assert parse_url("https://h/chat/") == ("https://h", "/chat")
    assert parse_url("wss://h:2/a?x=1") == ("https://h:2?x=1", "/a")
    assert parse_header("Authorization:  Bearer x ") == ("Authorization", "Bearer x")
    for bad in ("x", ": v", "a b: c"):
        with pytest.raises(ValueError):
            parse_header(bad)
    assert set(EXIT_CODES) == {0, 1, 2, 3, 4, 130}

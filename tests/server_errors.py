"""pytest plugin: a test fails when a server it ran logged an error.

Loaded by ``tests/conftest.py`` for every test. While a test runs (set-up, call and teardown,
so a server's shutdown is included) a handler on the root logger keeps every record at ERROR or
above and every record that carries a traceback, from any logger (aiosio, aiohttp, asyncio, ...).
Server processes are checked the same way: the ``start`` fixture passes each process's stderr to
:func:`process_problems` when it stops it. At teardown, anything found fails the test.

A test that provokes errors on purpose lists what it expects::

    @pytest.mark.allow_server_errors(r"aiohttp\\.server ERROR: Error handling request")

Each pattern is a regular expression searched in the problem's one-line description (for a log
record ``"<logger> <LEVEL>: <message> [<ExceptionType>: <exception>]"``, for a process the stderr
line). A problem no pattern matches still fails the test; the marker with no pattern allows any.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

MARKER = "allow_server_errors"
#: A log line of ``aiosio serve``/``aiosio run`` (``HH:MM:SS LEVEL name: message``) at ERROR and up.
_PROCESS_ERROR = re.compile(r"^\S+ (ERROR|CRITICAL)\s")


#: Not server errors: asyncio reports an aiohttp *client* session that was garbage-collected
#: unclosed, at whatever later moment the collector runs, so in whichever test is running then.
#: python-socketio's client leaves its session open when the server ends the connection.
NOT_SERVER_ERRORS = re.compile(r"^asyncio ERROR: Unclosed (client session|connector)")


def describe(record: logging.LogRecord) -> str:
    """One line for a log record: logger, level, message, and the exception it carries, if any."""
    text = f"{record.name} {record.levelname}: {record.getMessage()}"
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        text += f" [{type(exc).__name__}: {exc}]"
    return text


def is_problem(record: logging.LogRecord) -> bool:
    """ERROR and above, or anything with a traceback attached or quoted."""
    return bool(record.levelno >= logging.ERROR or record.exc_info or "Traceback" in record.getMessage())


def bad_log_records(
    records: Iterable[logging.LogRecord], tolerated: frozenset[str] = frozenset()
) -> list[str]:
    """The records among ``records`` that mean something went wrong, described one per line.

    ``tolerated`` names loggers to ignore entirely (the robustness harness uses it).
    """
    return [describe(r) for r in records if r.name not in tolerated and is_problem(r)]


def process_problems(stderr: str, name: str = "server process") -> list[str]:
    """The lines of a server process's stderr that report an error: ERROR/CRITICAL log lines and
    tracebacks (each traceback as one problem: its first line and the exception line)."""
    problems: list[str] = []
    lines = stderr.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("Traceback (most recent call last)"):
            j = i + 1
            while j < len(lines) and (lines[j].startswith(" ") or not lines[j].strip()):
                j += 1
            last = lines[j] if j < len(lines) else "(truncated)"
            problems.append(f"{name} Traceback: {last}")
            i = j + 1
            continue
        if _PROCESS_ERROR.match(line):
            problems.append(f"{name}: {line}")
        i += 1
    return problems


class _Collector(logging.Handler):
    """Keeps the problem records emitted while it is installed."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.problems: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if is_problem(record):
            text = describe(record)
            if not NOT_SERVER_ERRORS.match(text):
                self.problems.append(text)


def _allowed(node: pytest.Item) -> list[re.Pattern[str]] | None:
    """The test's allowed patterns; ``None`` when its marker allows anything."""
    patterns: list[re.Pattern[str]] = []
    for mark in node.iter_markers(MARKER):
        if not mark.args:
            return None
        patterns += [re.compile(p) for p in mark.args]
    return patterns


def unexpected(node: pytest.Item, problems: list[str]) -> list[str]:
    """``problems`` that the test's ``allow_server_errors`` marker does not allow."""
    allowed = _allowed(node)
    if allowed is None:
        return []
    return [p for p in problems if not any(a.search(p) for a in allowed)]


_PROCESS_KEY = pytest.StashKey[list[str]]()


def report_process_output(node: pytest.Item, stderr_path: Path, name: str) -> None:
    """Add the errors a server process wrote to ``stderr_path`` to the test's problems."""
    text = stderr_path.read_text(errors="replace") if stderr_path.exists() else ""
    node.stash.setdefault(_PROCESS_KEY, []).extend(process_problems(text, name))


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (also listed in pyproject.toml, for ``--markers``)."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*patterns): regular expressions of server errors this test provokes on purpose",
    )


@pytest.fixture(autouse=True)
def _fail_on_server_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """Collect error records for the whole test (set up first, torn down last); fail on any."""
    collector = _Collector()
    root = logging.getLogger()
    root.addHandler(collector)
    try:
        yield
    finally:
        root.removeHandler(collector)
    node = request.node
    problems = collector.problems + node.stash.get(_PROCESS_KEY, [])
    bad = unexpected(node, problems)
    if bad:
        shown = "\n  ".join(bad[:20]) + (f"\n  ... and {len(bad) - 20} more" if len(bad) > 20 else "")
        pytest.fail(
            f"the server logged {len(bad)} unexpected error(s):\n  {shown}\n"
            f"(a test that provokes them on purpose says so: @pytest.mark.{MARKER}(regex); docs/testing.md)",
            pytrace=False,
        )

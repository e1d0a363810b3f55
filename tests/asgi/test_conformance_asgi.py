"""The official suites' checks of tests/integration/test_conformance_suites.py (docs/conformance.md)
against the conformance example's servers as ASGI apps, each run by ``aiosio run`` under uvicorn (a
real process, stopped by its pid at the end of the module)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from asgi_support import TESTS, load_module, load_tests

from processes import AIOSIO, ServerProcess, start_process

SUITES = TESTS / "integration" / "test_conformance_suites.py"
load_tests(SUITES, "asgi_conformance_suites", globals())
suites = load_module(SUITES, "asgi_conformance_suites")


@pytest.fixture(scope="module")
def asgi_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """``url_of(suite)``: ``aiosio run conformance_asgi:<suite>_app`` (uvicorn), started once."""
    started: dict[str, ServerProcess] = {}
    workdir = tmp_path_factory.mktemp("asgi")

    def url_of(suite: str) -> str:
        if suite not in started:
            target = f"conformance_asgi:{suite}_app"
            cmd = [*AIOSIO, "run", target, "--app-dir", str(Path(__file__).parent), "--port", "0"]
            started[suite] = start_process([*cmd, "--no-access-log", "--log-level", "warning"], workdir)
        return started[suite].url

    yield url_of
    for server in started.values():
        assert server.stop() == 0, server.output()
        assert "Traceback" not in server.output(), server.output()


@pytest.fixture
async def run_example(
    http: aiohttp.ClientSession, asgi_servers: Callable[[str], str]
) -> AsyncIterator[Callable[[str], Awaitable[object]]]:
    """``await run_example(suite)``: the suite's server, the example under uvicorn."""

    async def start(suite: str) -> object:
        port = int(asgi_servers(suite).rsplit(":", 1)[1])
        return suites.Suite(http, port, suites.SERVERS[suite][1])

    yield start


async def test_the_servers_are_uvicorn(
    http: aiohttp.ClientSession, asgi_servers: Callable[[str], str]
) -> None:
    """What answers is uvicorn (its ``server`` header) running aiosio's ASGIApp (its 404 outside
    the Engine.IO path)."""
    for suite in ("engineio", "socketio"):
        async with http.get(asgi_servers(suite) + "/elsewhere") as resp:
            assert resp.status == 404 and await resp.text() == "Not Found"
            assert resp.headers.get("server") == "uvicorn"

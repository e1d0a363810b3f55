"""The pytest plugin in a separate pytest run (pytester): strict mode, and tests that don't use it."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

APP_TESTS = """
import pytest
import aiosio

@pytest.mark.asyncio
async def test_uses_the_fixtures(aiosio_test_server, aiosio_test_client):
    sio = aiosio.AsyncServer()
    sio.on("double", lambda sid, x: 2 * x)
    server = await aiosio_test_server(sio)
    client = await aiosio_test_client(server)
    assert await client.call("double", 21) == 42

def test_plain_sync_test():
    assert 1 + 1 == 2

@pytest.mark.asyncio
async def test_plain_async_test():
    assert True
"""


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_fixtures_work_in_both_pytest_asyncio_modes(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(test_app=APP_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-o", f"asyncio_mode={mode}")
    result.assert_outcomes(passed=3)


def test_the_plugin_is_an_entry_point_and_can_be_turned_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=APP_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fixtures")
    result.stdout.fnmatch_lines(["*aiosio_test_server*", "*aiosio_test_client*"])
    # Without the plugin only the test that asks for its fixtures fails; the others are unaffected.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:aiosio")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*fixture 'aiosio_test_server' not found*"])


def test_aiosio_testing_is_an_attribute_of_aiosio() -> None:
    # A fresh interpreter: `import aiosio` alone gives aiosio.testing (imported on first use).
    import subprocess
    import sys

    code = (
        "import aiosio, sys; assert 'aiosio.testing' not in sys.modules; "
        "print(aiosio.testing.connect.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "connect"

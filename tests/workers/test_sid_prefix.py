"""The ``sid_prefix`` engine option (what tags a worker's sessions), in one process."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp
import pytest

import aiosio
import aiosio.engineio
from aiosio.engine import options
from aiosio.engine.options import EngineOptions, set_default_sid_prefix

pytestmark = pytest.mark.timeout(20)


async def handshake_sid(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(url + "?EIO=4&transport=polling") as resp:
        return str(json.loads((await resp.text())[1:])["sid"])


async def test_default_sids_are_unchanged(serve: Any) -> None:
    handle = await serve(aiosio.AsyncServer())
    sid = await handshake_sid(handle.endpoint)
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", sid)


@pytest.mark.parametrize("kind", ["socketio", "engineio"])
async def test_prefixed_sids(serve: Any, kind: str) -> None:
    if kind == "socketio":
        handle = await serve(aiosio.AsyncServer(sid_prefix="w7."))
    else:
        handle = await serve(aiosio.engineio.AsyncServer(sid_prefix="w7."), engineio_path="engine.io")
    sid = await handshake_sid(handle.endpoint)
    assert re.fullmatch(r"w7\.[A-Za-z0-9_-]{24}", sid)  # still the 18 random bytes after it


async def test_the_process_default_applies_to_servers_made_after_it(serve: Any) -> None:
    try:
        set_default_sid_prefix("w3.")
        server = aiosio.AsyncServer()
    finally:
        set_default_sid_prefix("")
    assert aiosio.AsyncServer().options.sid_prefix == ""
    handle = await serve(server)
    assert (await handshake_sid(handle.endpoint)).startswith("w3.")


@pytest.mark.parametrize("bad", ["w 1.", "w/1", "a" * 17, "é", "w1?"])
def test_bad_prefixes_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="sid_prefix"):
        EngineOptions.from_kwargs({"sid_prefix": bad})
    with pytest.raises(ValueError, match="sid_prefix"):
        set_default_sid_prefix(bad)
    assert options._default_sid_prefix == ""

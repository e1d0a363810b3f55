"""Drives tests/recovery/node_csr.js: a Node socket.io 4.8 server with connectionStateRecovery
and/or npm socket.io-client clients, in one Node process stopped by its pid."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("node_csr.js")
ROOT = Path(__file__).resolve().parents[2]


class NodeCsr:
    """One node_csr.js process: :meth:`command` sends a command and returns its result."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int | None) -> None:
        self.proc = proc
        self.port = port
        self.events: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._reader = asyncio.ensure_future(self._read())

    @property
    def url(self) -> str:
        """The Node server's URL."""
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    async def start(cls, **config: Any) -> NodeCsr:
        """Start the process and wait for it to be ready."""
        env = {**os.environ, "NODE_PATH": str(ROOT / "node_modules")}
        proc = await asyncio.create_subprocess_exec(
            "node", str(SCRIPT), json.dumps(config),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env, cwd=str(ROOT),
        )  # fmt: skip
        assert proc.stdout is not None
        async with asyncio.timeout(10):
            line = await proc.stdout.readline()
        ready = json.loads(line)
        assert ready.get("event") == "ready", ready
        return cls(proc, ready["port"])

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            msg = json.loads(line)
            future = self._waiting.pop(msg.get("id", -1), None)
            if future is None:
                self.events.append(msg)
            elif not future.done():
                if msg["ok"]:
                    future.set_result(msg["result"])
                else:
                    future.set_exception(RuntimeError(msg["error"]))

    async def command(self, name: str, timeout: float = 10, **args: Any) -> Any:
        """Run one command in the Node process."""
        assert self.proc.stdin is not None
        cid = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[cid] = future
        self.proc.stdin.write((json.dumps({"id": cid, "cmd": name, **args}) + "\n").encode())
        async with asyncio.timeout(timeout):
            return await future

    async def wait_got(self, cid: str, count: int) -> None:
        """Wait until client ``cid`` got ``count`` events (the test's timeout bounds the wait)."""
        while (await self.command("state", cid=cid))["got"] < count:
            await asyncio.sleep(0.01)

    async def all_received(
        self, cid: str, count: int, timeout: float = 20.0, settle: float = 0.2
    ) -> list[list[Any]]:
        """Wait until client ``cid`` got ``count`` events and is connected, then ``settle``
        seconds more (nothing more may come): the arguments of every event it received."""
        async with asyncio.timeout(timeout):
            while True:
                state = await self.command("state", cid=cid)
                if state["got"] >= count and state["connected"]:
                    break
                await asyncio.sleep(0.05)
        await asyncio.sleep(settle)
        got: list[list[Any]] = await self.command("received", cid=cid)
        return got

    async def stop(self) -> None:
        """Stop the process (by its pid)."""
        self._reader.cancel()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        await self.proc.wait()

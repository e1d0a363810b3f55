"""Python side of ``node/driver.js``: drive npm socket.io-client sockets from pytest.

One :class:`NodeDriver` is one ``node`` subprocess that can hold any number of client sockets
(each named by a ``client`` string). Commands are JSON lines on the child's stdin; replies and
client-side events come back as JSON lines on its stdout. ``bytes`` are sent/received as
``{"$bin": "<base64>"}`` so binary payloads survive the JSON hop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DRIVER_JS = Path(__file__).resolve().parent / "node" / "driver.js"

#: Transport modes the interop scenarios run in: client options for the driver's ``connect``.
MODES: dict[str, dict[str, Any]] = {
    "websocket": {"transports": ["websocket"]},
    "polling": {"transports": ["polling"]},
    "upgrade": {},  # socket.io-client default: polling first, then upgrade to websocket
}


def to_wire(value: Any) -> Any:
    """Encode *value* for the driver: ``bytes`` become ``{"$bin": base64}``."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bin": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    return value


def from_wire(value: Any) -> Any:
    """Decode a value from the driver: ``{"$bin": base64}`` becomes ``bytes``."""
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"$bin"}:
            return base64.b64decode(value["$bin"])
        return {k: from_wire(v) for k, v in value.items()}
    return value


class DriverError(RuntimeError):
    """The driver replied with an error, exited, or did not answer in time."""


class NodeDriver:
    """A running ``node driver.js`` subprocess."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self.events: list[dict[str, Any]] = []  # every event received, in order (a log)
        self._unclaimed: list[dict[str, Any]] = []  # events not yet returned by event()
        self._changed = asyncio.Condition()
        self._stderr = bytearray()
        self._reader = asyncio.create_task(self._read_stdout())
        self._err_reader = asyncio.create_task(self._read_stderr())

    @classmethod
    async def start(cls, watchdog: float = 60.0) -> NodeDriver:
        """Spawn the driver (it kills itself after *watchdog* seconds whatever happens)."""
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(DRIVER_JS),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(REPO_ROOT),
            limit=64 * 1024 * 1024,  # one JSON line can carry megabytes of base64
            env={**os.environ, "DRIVER_WATCHDOG_MS": str(int(watchdog * 1000))},
        )
        return cls(proc)

    async def _read_stdout(self) -> None:
        assert self._proc.stdout is not None
        async for raw in self._proc.stdout:
            line = raw.decode().strip()
            if not line:
                continue
            msg = json.loads(line)
            if "re" in msg:
                fut = self._pending.pop(msg["re"], None)
                if fut is not None and not fut.done():
                    if msg["ok"]:
                        fut.set_result(from_wire(msg.get("result")))
                    else:
                        fut.set_exception(DriverError(msg.get("error")))
                continue
            if "args" in msg:
                msg["args"] = from_wire(msg["args"])
            if "data" in msg:
                msg["data"] = from_wire(msg["data"])
            async with self._changed:
                self.events.append(msg)
                self._unclaimed.append(msg)
                self._changed.notify_all()
        # EOF: fail whatever is still waiting.
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(DriverError(f"driver exited; stderr: {self.stderr}"))
        async with self._changed:
            self._changed.notify_all()

    async def _read_stderr(self) -> None:
        assert self._proc.stderr is not None
        async for raw in self._proc.stderr:
            self._stderr.extend(raw)

    @property
    def stderr(self) -> str:
        """What the driver wrote to stderr so far."""
        return self._stderr.decode(errors="replace")

    async def request(self, op: str, timeout: float = 10.0, **params: Any) -> Any:
        """Send one command and return its result (raises :class:`DriverError`)."""
        assert self._proc.stdin is not None
        self._next_id += 1
        cmd = {"id": self._next_id, "op": op, **to_wire(params)}
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = fut
        self._proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await self._proc.stdin.drain()
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise DriverError(f"no reply to {op} within {timeout}s; stderr: {self.stderr}") from None

    async def connect(self, client: str, url: str, **params: Any) -> None:
        """Create socket *client* (params: nsp, manager, transports, parser, auth, query...)."""
        await self.request("connect", client=client, url=url, **params)

    async def emit(self, client: str, event: str, *args: Any) -> None:
        """``socket.emit(event, ...args)`` without an ack."""
        await self.request("emit", client=client, event=event, args=list(args))

    async def call(self, client: str, event: str, *args: Any, timeout: float = 5.0) -> list[Any]:
        """``socket.timeout(t).emit(event, ...args, cb)``; returns the ack's argument list."""
        result: list[Any] = await self.request(
            "emit",
            timeout=timeout + 2,
            client=client,
            event=event,
            args=list(args),
            ack=True,
        )
        return result

    def _match(self, event: dict[str, Any], match: dict[str, Any]) -> bool:
        return all(event.get(k) == v for k, v in match.items())

    async def event(self, type: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """Wait for (and claim) the oldest unclaimed event of *type* whose fields equal *match*."""
        match["type"] = type

        def find() -> dict[str, Any] | None:
            for i, ev in enumerate(self._unclaimed):
                if self._match(ev, match):
                    return self._unclaimed.pop(i)
            return None

        async def wait() -> dict[str, Any]:
            async with self._changed:
                while True:
                    found = find()
                    if found is not None:
                        return found
                    if self._reader.done():
                        raise DriverError(f"driver exited; stderr: {self.stderr}")
                    await self._changed.wait()

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise DriverError(
                f"no {match} event within {timeout}s; events so far: {self.events}; stderr: {self.stderr}"
            ) from None

    def unclaimed(self, type: str, **match: Any) -> list[dict[str, Any]]:
        """Unclaimed events of *type* matching *match* received so far (not removed)."""
        match["type"] = type
        return [ev for ev in self._unclaimed if self._match(ev, match)]

    async def close(self) -> None:
        """Ask the driver to exit, and kill it if it does not within a few seconds."""
        if self._proc.returncode is None:
            with contextlib.suppress(Exception):
                assert self._proc.stdin is not None
                self._proc.stdin.close()
            try:
                await asyncio.wait_for(self._proc.wait(), 5)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        for task in (self._reader, self._err_reader):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 2)

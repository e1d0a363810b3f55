"""A ``MONITOR`` recorder: every command a Redis server executes, with its arguments as raw bytes.

``MONITOR`` prints each argument quoted the way Redis's ``sdscatrepr`` does (printable ASCII as is,
``\\"`` ``\\\\`` ``\\n`` ``\\r`` ``\\t`` ``\\a`` ``\\b``, every other byte as ``\\xHH``), so the exact bytes a
node published come back with :func:`unrepr` (redis-py's ``monitor()`` returns text and loses them).

    async with RedisMonitor(redis_server.url) as mon:
        ...  # make a node publish
        await mon.sync()  # every command Redis ran before this point is now in mon.commands
        [cmd] = mon.published(b"socket.io#/#r1#")
        assert decode_payload(cmd.payload)[1]["data"] == ["hello", "world"]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import msgpack
import redis.asyncio

_ESCAPES = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("a"): b"\a", ord("b"): b"\b"}


def unrepr(quoted: bytes) -> bytes:
    """The bytes behind one ``sdscatrepr``-quoted argument, without its surrounding quotes."""
    out = bytearray()
    i, n = 0, len(quoted)
    while i < n:
        c = quoted[i]
        if c != 0x5C:  # backslash
            out.append(c)
            i += 1
            continue
        nxt = quoted[i + 1]
        if nxt == ord("x"):
            out.append(int(quoted[i + 2 : i + 4], 16))
            i += 4
        else:
            out += _ESCAPES.get(nxt, bytes([nxt]))  # \\ and \" stand for themselves
            i += 2
    return bytes(out)


def split_args(text: bytes) -> list[bytes]:
    """The arguments of one MONITOR line's command part: ``"a" "b\\x00"`` -> ``[b"a", b"b\\x00"]``."""
    args: list[bytes] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] == 0x20:
            i += 1
            continue
        if text[i] != 0x22:
            raise ValueError(f"unquoted MONITOR argument at {i}: {text!r}")
        j = i + 1
        while text[j] != 0x22:
            j += 2 if text[j] == 0x5C else 1
        args.append(unrepr(text[i + 1 : j]))
        i = j + 1
    return args


@dataclass(frozen=True)
class MonitorCommand:
    """One command as Redis executed it."""

    time: float
    db: int
    #: Who sent it: ``127.0.0.1:54886``, ``lua``, ``unix:/path``...
    client: str
    #: The command name, upper-cased (``PUBLISH``, ``SSUBSCRIBE``...).
    name: str
    #: Every argument after the name, as raw bytes.
    args: tuple[bytes, ...]

    @property
    def channel(self) -> bytes:
        """The first argument (the channel of PUBLISH / SPUBLISH)."""
        return self.args[0]

    @property
    def payload(self) -> bytes:
        """The message of PUBLISH / SPUBLISH (its second argument)."""
        return self.args[1]

    def decoded(self) -> Any:
        """The PUBLISH / SPUBLISH payload decoded (:func:`decode_payload`)."""
        return decode_payload(self.payload)


def parse_line(line: bytes) -> MonitorCommand:
    """One MONITOR reply line (``+<time> [<db> <client>] "<name>" "<arg>"...``, CRLF stripped)."""
    body = line[1:] if line.startswith(b"+") else line
    stamp, rest = body.split(b" ", 1)
    close = rest.index(b"]")
    db, client = rest[1:close].split(b" ", 1)
    args = split_args(rest[close + 1 :])
    return MonitorCommand(
        time=float(stamp),
        db=int(db),
        client=client.decode(),
        name=args[0].decode().upper(),
        args=tuple(args[1:]),
    )


def decode_payload(raw: bytes) -> Any:
    """A cluster message: JSON when it starts with ``{`` (the test Node's receivers do), else msgpack.

    msgpack is unpacked with ``raw=False``: str stays str, bin becomes ``bytes``.
    """
    if raw[:1] == b"{":
        return json.loads(raw)
    return msgpack.unpackb(raw, raw=False)


def pack(obj: Any) -> bytes:
    """``obj`` packed like notepack.io packs it (``bytes`` as msgpack bin): byte-comparable with Node."""
    packed: bytes = msgpack.packb(obj, use_bin_type=True)
    return packed


class RedisMonitor:
    """Async context manager: a ``MONITOR`` connection recording every command into :attr:`commands`."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        #: Every command seen, in execution order (the recorder's own sync markers left out).
        self.commands: list[MonitorCommand] = []
        self._markers: set[bytes] = set()
        self._changed = asyncio.Condition()
        self._reader_task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._error: BaseException | None = None

    async def __aenter__(self) -> RedisMonitor:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 5)
        self._writer = writer
        writer.write(b"MONITOR\r\n")
        await writer.drain()
        ok = await asyncio.wait_for(reader.readline(), 5)
        if ok != b"+OK\r\n":
            raise RuntimeError(f"MONITOR refused: {ok!r}")
        self._reader_task = asyncio.create_task(self._read(reader))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader_task
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._writer.wait_closed(), 2)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    raise ConnectionError("the MONITOR connection closed")
                cmd = parse_line(line.rstrip(b"\r\n"))
                async with self._changed:
                    if cmd.name == "ECHO" and cmd.args and cmd.args[0] in self._markers:
                        self._markers.discard(cmd.args[0])
                    else:
                        self.commands.append(cmd)
                    self._changed.notify_all()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._error = exc
            async with self._changed:
                self._changed.notify_all()

    async def _until(self, ready: Callable[[], Any], timeout: float, what: str) -> Any:
        async def wait() -> Any:
            async with self._changed:
                while True:
                    found = ready()
                    if found is not None:
                        return found
                    if self._error is not None:
                        raise RuntimeError(f"MONITOR reader failed: {self._error!r}")
                    await self._changed.wait()

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            seen = "\n  ".join(f"{c.name} {c.args!r}" for c in self.commands[-30:])
            raise AssertionError(f"MONITOR: no {what} within {timeout}s; last commands:\n  {seen}") from None

    async def sync(self, timeout: float = 5.0) -> None:
        """Wait until every command Redis executed before this call is in :attr:`commands`.

        An ``ECHO <marker>`` sent on another connection comes out of MONITOR after them.
        """
        marker = f"monitor-sync-{uuid.uuid4().hex}".encode()
        self._markers.add(marker)
        client = redis.asyncio.Redis(host=self.host, port=self.port, socket_timeout=timeout)
        try:
            await client.echo(marker)
        finally:
            await client.aclose()
        await self._until(lambda: True if marker not in self._markers else None, timeout, "sync marker")

    async def wait_for(
        self, pred: Callable[[MonitorCommand], bool], timeout: float = 5.0, start: int = 0
    ) -> MonitorCommand:
        """The first recorded command (from index *start*) matching *pred*, waiting for it if needed."""

        def find() -> MonitorCommand | None:
            return next((c for c in self.commands[start:] if pred(c)), None)

        found: MonitorCommand = await self._until(find, timeout, "matching command")
        return found

    def select(self, *names: str, channel: bytes | str | None = None) -> list[MonitorCommand]:
        """Recorded commands named one of *names* (all when none), optionally on *channel* (first arg)."""
        wanted = {n.upper() for n in names}
        chan = channel.encode() if isinstance(channel, str) else channel
        return [
            c
            for c in self.commands
            if (not wanted or c.name in wanted) and (chan is None or (c.args and c.args[0] == chan))
        ]

    def published(self, channel: bytes | str | None = None) -> list[MonitorCommand]:
        """Recorded ``PUBLISH`` and ``SPUBLISH`` commands, optionally only those on *channel*."""
        return self.select("PUBLISH", "SPUBLISH", channel=channel)

    def mark(self) -> int:
        """The current length of :attr:`commands` (pass it as ``start=`` to look only at what follows)."""
        return len(self.commands)


class ClusterMonitor:
    """Async context manager: one :class:`RedisMonitor` per Redis Cluster node, read as one.

    Each command keeps the node it ran on: ``node_of(cmd)`` is the url of its monitor, so a test can
    check which master a SPUBLISH landed on (the owner of the channel's slot).
    """

    def __init__(self, urls: list[str]) -> None:
        self.monitors = [RedisMonitor(url) for url in urls]
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> ClusterMonitor:
        async with contextlib.AsyncExitStack() as stack:
            for mon in self.monitors:
                await stack.enter_async_context(mon)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()

    @property
    def commands(self) -> list[MonitorCommand]:
        """Every node's commands, merged in time order."""
        return sorted((c for m in self.monitors for c in m.commands), key=lambda c: c.time)

    def node_of(self, cmd: MonitorCommand) -> str:
        """The url of the node *cmd* ran on."""
        for mon in self.monitors:
            if any(c is cmd for c in mon.commands):
                return f"redis://{mon.host}:{mon.port}"
        raise KeyError(cmd)

    async def sync(self, timeout: float = 5.0) -> None:
        """:meth:`RedisMonitor.sync` on every node."""
        await asyncio.gather(*(m.sync(timeout) for m in self.monitors))

    def select(self, *names: str, channel: bytes | str | None = None) -> list[MonitorCommand]:
        """:meth:`RedisMonitor.select` over every node, in time order."""
        return sorted(
            (c for m in self.monitors for c in m.select(*names, channel=channel)), key=lambda c: c.time
        )

    def published(self, channel: bytes | str | None = None) -> list[MonitorCommand]:
        """``PUBLISH`` and ``SPUBLISH`` commands on every node, optionally only those on *channel*."""
        return self.select("PUBLISH", "SPUBLISH", channel=channel)

"""Python side of ``node/node_node.js``: a Node socket.io 4.8.4 server on @socket.io/redis-adapter 8.3.0.

A :class:`NodePeer` is one ``node`` process: a socket.io server on 127.0.0.1 with namespaces ``/`` and
``/admin`` whose adapter talks to Redis (profile ``classic``: ``createAdapter(pub, sub, {key,
requestsTimeout})``; ``sharded``: ``createShardedAdapter(pub, sub, {channelPrefix, subscriptionMode})``;
``streams``: @socket.io/redis-streams-adapter 0.3.1 ``createAdapter(pub, {streamName, channelPrefix, ...})``;
node-redis 4.7.1 clients, ``createCluster`` when given ``cluster=[urls]``). It can also hold npm
socket.io-client 4.8.4 clients connected to any server (aiosio or Node).

Commands (``await peer.command(name, **args)``; every one takes ``nsp``, default ``/``; ``rooms`` /
``except`` / ``join`` / ``leave`` take a room or a list; ``timeoutMs`` is Node's timeout in ms, not
to be confused with ``command(..., timeout=seconds)``, the wait for the reply); a reply is the result,
an error reply raises :class:`NodeCommandError` with Node's exact message:

- ``emit`` event, args, rooms, except, volatile, local, compress -> true
- ``emitWithAck`` event, args, rooms, except, timeoutMs (default 2000) -> [responses], or
  {"error", "responses"} when Node rejected (e.g. "operation has timed out")
- ``fetchSockets`` rooms, except, timeoutMs (Node's flags.timeout) -> [{id, rooms, data, handshake,
  local}]; a rejection is an error reply (classic: "timeout reached while waiting for fetchSockets
  response")
- ``remoteSocket`` sid, op (emit | join | leave | disconnect), args (emit: [event, ...]; join: [room
  or rooms]; leave: [room]; disconnect: [close]), timeoutMs (emit with ack) -> {"local"}, or the ack
- ``serverSideEmit`` event, args -> true
- ``serverSideEmitWithAck`` event, args -> [responses] or {"error", "responses"} (Node's own timeout:
  requestsTimeout for classic, 5 s for sharded)
- ``socketsJoin`` rooms, except, join / ``socketsLeave`` rooms, except, leave / ``disconnectSockets``
  rooms, except, close -> true (fire-and-forget on the remote nodes)
- ``serverCount`` -> int; ``rooms`` -> allRooms() as a list
- ``localState`` -> {uid, sockets: [sids], rooms: {room: [sids]}} (this node only, no Redis)
- ``setData`` sid, data -> true (socket.data of a local socket; ``auth.data`` sets it at connect)
- ``join`` / ``leave`` sid, rooms -> the socket's rooms (a local socket.join / socket.leave)
- ``socketEmit`` sid, event, args, timeoutMs (given: emitWithAck) -> true, the ack, or {"error"}
- ``onServerSide`` event, reply -> true (a listener acking with *reply*; without reply it never acks)
- ``client`` url, nsp, auth, transports, query, path, parser ("msgpack"), reconnection (default off),
  cid, ackPrefix (default "ack-me"; null: never ack), wait (false: don't wait for connect),
  timeoutMs -> {cid, sid, recovered}
- ``clientEmit`` cid, event, args, ack (bool), timeoutMs -> true, or the ack's arguments
- ``clientInfo`` cid -> {cid, connected, sid, recovered}; ``clientClose`` cid (socket.disconnect());
  ``clientDrop`` cid (engine.close(), like a network drop: the client sees "forced close", the server
  "transport close"; it reconnects when reconnection is on, sending its pid with CSR)
- ``emitter`` action (emit | serverSideEmit | socketsJoin | socketsLeave | disconnectSockets), event,
  args, rooms, except, volatile, join, leave, close: through @socket.io/redis-emitter (classic only)
- ``redisCommand`` args -> the reply of a raw command on the pub client (standalone Redis only)
- ``settle`` -> true; ``exit`` -> true (io.close(), the Redis clients quit, the process exits)

Every reply is written only after every Redis (un)subscription the adapter started is confirmed, so
after ``join`` returns, a sharded ``dynamic`` node's room channel is subscribed.

Events (``await peer.next_event(...)``; each a dict with ``"event"``):

- ``ready`` {name, profile, port, pid, uids: {nsp: adapter uid}} (consumed by :meth:`NodePeer.start`);
- ``connection`` {nsp, sid, recovered, rooms, auth}; ``disconnect`` {nsp, sid, reason};
- ``socket-event`` {nsp, sid, name, args, ack}: a client emitted to this server (an ack gets
  ``{"server": <name>, "ev": <event>}``);
- ``server-side`` {nsp, name, args, ack}: every server-side event this node received;
- ``client-connect`` {cid, sid, recovered}; ``client-disconnect`` {cid, reason};
  ``client-connect_error`` {cid, error}; ``client-event`` {cid, name, args, ack}: events an in-process
  client got; those named ``ack-me*`` are acked with ``{"client": cid, "ev": name}``;
- ``redis-error`` {client, error}; ``unhandled-rejection`` {error}; ``fatal`` {error} (the node exits).

Binary travels as ``{"$bin": "<hex>"}`` both ways: pass ``bytes`` in args, get ``bytes`` back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_JS = Path(__file__).resolve().parent / "node" / "node_node.js"

#: Event predicate: a callable, or a dict of fields the event must equal.
Match = Callable[[dict[str, Any]], bool] | Mapping[str, Any]


def to_wire(value: Any) -> Any:
    """Encode *value* for node_node.js: ``bytes`` become ``{"$bin": hex}``."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bin": bytes(value).hex()}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    return value


def from_wire(value: Any) -> Any:
    """Decode a value from node_node.js: ``{"$bin": hex}`` becomes ``bytes``."""
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"$bin"}:
            return bytes.fromhex(value["$bin"])
        return {k: from_wire(v) for k, v in value.items()}
    return value


def matches(event: dict[str, Any], match: Match) -> bool:
    """Whether *event* satisfies *match* (a predicate, or fields it must equal)."""
    if callable(match):
        return bool(match(event))
    return all(event.get(k) == v for k, v in match.items())


class NodeCommandError(RuntimeError):
    """node_node.js answered a command with an error (``.message`` is Node's text), or not at all."""

    def __init__(self, message: str, reply: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reply = reply or {}


class NodePeer:
    """A running ``node node_node.js`` process (start it with :meth:`start`)."""

    def __init__(self, proc: asyncio.subprocess.Process, config: dict[str, Any]) -> None:
        self._proc = proc
        self.config = config
        self.name: str = config["name"]
        self.profile: str = config["profile"]
        self.port = 0
        #: The adapter uid of each namespace (from ``ready``): 6 chars classic, 16 hex sharded.
        self.uids: dict[str, str] = {}
        #: Every event received, in order (a log; claiming with next_event does not remove it).
        self.events: list[dict[str, Any]] = []
        self._unclaimed: list[dict[str, Any]] = []
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._changed = asyncio.Condition()
        self._stderr = bytearray()
        self.frozen = False
        self._reader = asyncio.create_task(self._read_stdout())
        self._err_reader = asyncio.create_task(self._read_stderr())

    @classmethod
    async def start(
        cls,
        profile: str,
        redis_url: str | None = None,
        *,
        name: str = "node",
        cluster: list[str] | None = None,
        port: int = 0,
        timeout: float = 15.0,
        watchdog: float = 120.0,
        **options: Any,
    ) -> NodePeer:
        """Spawn a node and wait for its ``ready`` event.

        *options* go to node_node.js as they are: ``nsps``, ``key``, ``requestsTimeout``,
        ``publishOnSpecificResponseChannel`` (classic); ``channelPrefix``, ``subscriptionMode``
        (``static`` | ``dynamic`` | ``dynamic-private``, sharded); ``streamName``, ``streamCount``,
        ``maxLen``, ``sessionKeyPrefix``, ... (streams); ``csr`` (true or Node's
        connectionStateRecovery options), ``pingInterval``, ``pingTimeout``.
        """
        if redis_url is None and not cluster:
            raise ValueError("a redis_url or a cluster of urls is needed")
        config: dict[str, Any] = {
            "profile": profile,
            "name": name,
            "port": port,
            "watchdogMs": int(watchdog * 1000),
            **options,
        }
        if cluster:
            config["cluster"] = list(cluster)
        else:
            config["redis"] = redis_url
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(NODE_JS),
            json.dumps(config),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(REPO_ROOT),
            limit=64 * 1024 * 1024,
            env={**os.environ},
        )
        peer = cls(proc, config)
        try:
            ready = await peer.next_event({"event": "ready"}, timeout=timeout)
        except BaseException:
            await peer.kill()
            raise
        peer.port = int(ready["port"])
        peer.uids = dict(ready["uids"])
        return peer

    @property
    def pid(self) -> int:
        """The node process's pid."""
        return self._proc.pid

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` of its socket.io server."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def returncode(self) -> int | None:
        """The exit status, or ``None`` while it runs."""
        return self._proc.returncode

    @property
    def stderr(self) -> str:
        """What the node wrote to stderr so far."""
        return self._stderr.decode(errors="replace")

    async def _read_stdout(self) -> None:
        assert self._proc.stdout is not None
        async for raw in self._proc.stdout:
            line = raw.decode().strip()
            if not line:
                continue
            try:
                msg = json.loads(line)
                if "id" in msg and "event" not in msg:
                    fut = self._pending.pop(msg["id"], None)
                    if fut is not None and not fut.done():
                        fut.set_result(msg)
                    continue
                msg = from_wire(msg)
            except ValueError:  # not JSON, or a malformed {"$bin"}: kept as a bad-output event
                msg = {"event": "bad-output", "line": line}
            async with self._changed:
                self.events.append(msg)
                self._unclaimed.append(msg)
                self._changed.notify_all()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(NodeCommandError(f"node {self.name} exited; stderr: {self.stderr}"))
        async with self._changed:
            self._changed.notify_all()

    async def _read_stderr(self) -> None:
        assert self._proc.stderr is not None
        async for raw in self._proc.stderr:
            self._stderr.extend(raw)

    async def send(self, name: str, timeout: float = 10.0, **args: Any) -> dict[str, Any]:
        """Send one command and return its whole reply (``ok``, ``result`` or ``error``, ``ms``)."""
        if isinstance(args.get("timeoutMs"), int | float):
            timeout = max(timeout, args["timeoutMs"] / 1000 + 5)
        if self._proc.returncode is not None or self._reader.done():
            raise NodeCommandError(f"node {self.name} is not running; stderr: {self.stderr}")
        if "id" in args or "cmd" in args:
            raise ValueError("'id' and 'cmd' are the command's own fields, not arguments")
        assert self._proc.stdin is not None
        self._next_id += 1
        cmd_id = self._next_id
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[cmd_id] = fut
        self._proc.stdin.write((json.dumps({"id": cmd_id, "cmd": name, **to_wire(args)}) + "\n").encode())
        try:
            await asyncio.wait_for(self._proc.stdin.drain(), timeout)
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            frozen = " (it is frozen)" if self.frozen else ""
            raise NodeCommandError(
                f"node {self.name}: no reply to {name} within {timeout}s{frozen}"
            ) from None
        finally:
            self._pending.pop(cmd_id, None)

    async def command(self, name: str, timeout: float = 10.0, **args: Any) -> Any:
        """Run command *name* and return its result; an error reply raises :class:`NodeCommandError`.

        *timeout* (seconds) bounds the wait for the reply; it is stretched to 5 s past a ``timeoutMs``
        argument (Node's own timeout for the operation, in milliseconds).
        """
        reply = await self.send(name, timeout=timeout, **args)
        if not reply.get("ok"):
            raise NodeCommandError(str(reply.get("error")), reply)
        return from_wire(reply.get("result"))

    async def next_event(self, match: Match, timeout: float = 5.0) -> dict[str, Any]:
        """Wait for, and claim, the oldest unclaimed event matching *match*."""

        def find() -> dict[str, Any] | None:
            for i, ev in enumerate(self._unclaimed):
                if matches(ev, match):
                    return self._unclaimed.pop(i)
            return None

        async def wait() -> dict[str, Any]:
            async with self._changed:
                while True:
                    found = find()
                    if found is not None:
                        return found
                    if self._reader.done():
                        raise NodeCommandError(f"node {self.name} exited; stderr: {self.stderr}")
                    await self._changed.wait()

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            shown = match if not callable(match) else getattr(match, "__name__", "predicate")
            raise AssertionError(
                f"node {self.name}: no event {shown} within {timeout}s; events: {self.events[-20:]};"
                f" stderr: {self.stderr}"
            ) from None

    def unclaimed(self, match: Match) -> list[dict[str, Any]]:
        """Unclaimed events matching *match* so far (left unclaimed)."""
        return [ev for ev in self._unclaimed if matches(ev, match)]

    async def client(self, url: str, nsp: str = "/", **options: Any) -> dict[str, Any]:
        """Start an in-process socket.io-client (command ``client``); returns ``{cid, sid, recovered}``."""
        result: dict[str, Any] = await self.command("client", url=url, nsp=nsp, **options)
        return result

    def freeze(self) -> None:
        """SIGSTOP the node: it stays subscribed in Redis's view but answers nothing."""
        os.kill(self.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        """SIGCONT a frozen node."""
        os.kill(self.pid, signal.SIGCONT)
        self.frozen = False

    async def kill(self) -> None:
        """SIGKILL the node by its pid and reap it."""
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._proc.wait(), 5)
        self.frozen = False
        await self._join_readers()

    async def stop(self, timeout: float = 3.0) -> None:
        """The ``exit`` command (io.close(), Redis clients quit), then SIGKILL by pid if still running."""
        if self._proc.returncode is None:
            if self.frozen:
                self.thaw()
            with contextlib.suppress(NodeCommandError, ConnectionError, RuntimeError):
                await self.send("exit", timeout=timeout)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._proc.wait(), timeout)
        await self.kill()

    async def _join_readers(self) -> None:
        if self._proc.stdin is not None:
            with contextlib.suppress(Exception):
                self._proc.stdin.close()
        for task in (self._reader, self._err_reader):
            if not task.done():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(task), 2)
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

"""An aiosio node as a real process: an ``AsyncServer`` on ``AsyncRedisManager`` (classic), driven over
stdin/stdout JSON lines exactly like ``node/node_node.js``, so a test can SIGSTOP or SIGKILL it.

Run as a script: ``python tests/cluster/py_node.py '<config JSON>'`` with ``{"redis": url, "name": "P",
"nsps": ["/", "/admin"], "key": "socket.io", "requestsTimeout": 5000, "watchdogMs": 120000}``. From a
test, :meth:`PyPeer.start` spawns it and returns a peer with :class:`~node_peer.NodePeer`'s whole
client side (``command``, ``next_event``, ``freeze``/``thaw``, ``kill``, ``stop``).

Commands (same names and arguments as node_node.js where they mean the same; ``nsp`` defaults to ``/``):

- ``emit`` event, args, rooms, except, volatile, local -> true
- ``emitWithAck`` event, args, rooms, except, timeoutMs (2000) -> [responses], or {"error",
  "responses"} (``AcksMissingError``)
- ``fetchSockets`` rooms, except, timeoutMs -> [{id, rooms, data, handshake, local}]; servers that did
  not answer make it ``{"error": "missing N", "responses": [...]}`` (aiosio never fails the call)
- ``remoteSocket`` sid, op (emit | join | leave | disconnect), args -> {"local"}
- ``serverSideEmit`` event, args -> true; ``serverSideEmitWithAck`` event, args, timeoutMs ->
  [answers] or {"error": "missing N", "responses": [...]}
- ``socketsJoin`` rooms, except, join / ``socketsLeave`` rooms, except, leave / ``disconnectSockets``
  rooms, except, close -> true
- ``serverCount`` -> int; ``localState`` -> {uid, sockets, rooms}; ``setData`` sid, data (the session)
- ``join`` / ``leave`` sid, rooms -> the socket's rooms; ``onServerSide`` event, reply -> true
- ``settle`` -> true; ``exit`` -> true (``sio.shutdown()``, then the process exits)

Events: ``ready`` {name, port, pid, uids}; ``connection`` {nsp, sid, rooms, auth}; ``disconnect``
{nsp, sid, reason}; ``socket-event`` {nsp, sid, name, args}; ``server-side`` {nsp, name, args}.
Binary travels as ``{"$bin": "<hex>"}`` both ways (node_peer's ``to_wire`` / ``from_wire``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: node_peer is a sibling module
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from node_peer import REPO_ROOT, Match, NodeCommandError, NodePeer, from_wire, matches, to_wire
else:
    from .node_peer import REPO_ROOT, Match, NodeCommandError, NodePeer, from_wire, matches, to_wire

PY_NODE = Path(__file__).resolve()
#: One command: its arguments (the JSON object) -> its result.
Command = Callable[[dict[str, Any]], Awaitable[Any]]


class PyPeer(NodePeer):
    """A running ``py_node.py`` process: the same client side as a Node node."""

    @classmethod
    async def start(  # type: ignore[override]
        cls,
        redis_url: str,
        *,
        name: str = "P",
        timeout: float = 15.0,
        watchdog: float = 120.0,
        **options: Any,
    ) -> PyPeer:
        """Spawn an aiosio node on the Redis at ``redis_url`` and wait for its ``ready`` event.

        *options*: ``nsps``, ``key``, ``requestsTimeout`` (ms, the manager's ``request_timeout``);
        ``profile="sharded"`` (and ``subscriptionMode``) for the sharded adapter.
        """
        config = {"profile": "classic", "name": name, "redis": redis_url, "watchdogMs": int(watchdog * 1000)}
        config.update(options)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(PY_NODE),
            json.dumps(config),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(REPO_ROOT),
            limit=64 * 1024 * 1024,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
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


class LocalPeer:
    """An aiosio node in the test's own process (served by the ``serve`` fixture), driven with the
    same ``command(name, **args)`` as a Node or a py_node peer: arguments and results cross a JSON
    round trip, errors raise :class:`~node_peer.NodeCommandError`. ``sio`` is the server itself."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.name: str = config.get("name", "L")
        self.events: list[dict[str, Any]] = []
        self._claimed: set[int] = set()
        self.sio, self._commands, _ = make_node(config, self.events.append)
        self.port = 0

    @property
    def uid(self) -> str:
        """The classic driver's uid (one for every namespace)."""
        return str(self.sio.manager.adapter.driver.uid)

    @property
    def uids(self) -> dict[str, str]:
        """The adapter uid of each namespace (NodePeer's shape)."""
        return {ns: self.uid for ns in self.config.get("nsps", ["/", "/admin"])}

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` once served."""
        return f"http://127.0.0.1:{self.port}"

    async def command(self, name: str, timeout: float = 10.0, **args: Any) -> Any:
        """Run a command in this process; its result as a peer process would reply it."""
        handler = self._commands.get(name)
        if handler is None:
            raise ValueError(f"unknown command {name}")
        params = from_wire(json.loads(json.dumps(to_wire(args))))
        try:
            result = await asyncio.wait_for(handler(params), timeout)
        except (asyncio.CancelledError, AssertionError):
            raise
        except Exception as exc:
            raise NodeCommandError(str(exc)) from exc
        return from_wire(json.loads(json.dumps(to_wire(_jsonable(result)))))

    async def next_event(self, match: Match, timeout: float = 5.0) -> dict[str, Any]:
        """Wait for, and claim, the oldest unclaimed event matching *match* (NodePeer's)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if i not in self._claimed and matches(ev, match):
                    self._claimed.add(i)
                    return ev
            if loop.time() > deadline:
                raise AssertionError(f"{self.name}: no event {match} within {timeout}s: {self.events[-20:]}")
            await asyncio.sleep(0.01)

    def unclaimed(self, match: Match) -> list[dict[str, Any]]:
        """Unclaimed events matching *match* so far."""
        return [ev for i, ev in enumerate(self.events) if i not in self._claimed and matches(ev, match)]


# -------------------------------------------------------------------------------------------- the server


def _out(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(to_wire(obj)) + "\n")
    sys.stdout.flush()


def _names(value: Any) -> list[Any] | None:
    if value is None:
        return None
    names = value if isinstance(value, list) else [value]
    return names or None


def _args(p: dict[str, Any]) -> tuple[Any, ...]:
    args = p.get("args")
    if args is None:
        return ()
    return tuple(from_wire(args if isinstance(args, list) else [args]))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return value


def _partial(answers: Any) -> Any:
    items = _jsonable(list(answers))
    if answers.missing:
        return {"error": f"missing {answers.missing}", "responses": items}
    return items


def make_node(
    config: dict[str, Any], out: Callable[[dict[str, Any]], None] = _out
) -> tuple[Any, dict[str, Command], asyncio.Event]:
    """The aiosio server of a config (not attached yet), its commands by name, and the event that
    ``exit`` sets."""
    import aiosio
    from aiosio.exceptions import AcksMissingError

    name = config.get("name", "P")
    nsps: list[str] = config.get("nsps", ["/", "/admin"])
    timeout = float(config.get("requestsTimeout", 5000)) / 1000
    sharded: dict[str, Any] = {}
    if config.get("profile") == "sharded":  # the sharded adapter ("subscriptionMode" as Node's option)
        sharded = {"mode": "sharded", "subscription_mode": config.get("subscriptionMode", "dynamic")}
    if config.get("publishOnSpecificResponseChannel"):  # Node's classic option of that name
        sharded["publish_on_specific_response_channel"] = True
    manager = aiosio.AsyncRedisManager(
        config["redis"], channel=config.get("key", "socket.io"), request_timeout=timeout, **sharded
    )
    sio = aiosio.AsyncServer(client_manager=manager, namespaces=nsps)

    for nsp in nsps:

        def handlers(ns: str) -> None:
            async def connect(sid: str, environ: Any, auth: Any = None) -> None:
                if isinstance(auth, dict) and isinstance(auth.get("data"), dict):
                    await sio.save_session(sid, auth["data"], namespace=ns)
                out({"event": "connection", "nsp": ns, "sid": sid, "rooms": sio.rooms(sid, ns), "auth": auth})

            async def disconnect(sid: str, *reason: Any) -> None:
                out({"event": "disconnect", "nsp": ns, "sid": sid, "reason": reason[0] if reason else None})

            async def any_event(event: str, sid: str, *args: Any) -> Any:
                out({"event": "socket-event", "nsp": ns, "sid": sid, "name": event, "args": list(args)})
                return {"server": name, "ev": event}

            sio.on("connect", connect, namespace=ns)
            sio.on("disconnect", disconnect, namespace=ns)
            sio.on("*", any_event, namespace=ns)

        handlers(nsp)

    def adapter_uid() -> str:
        return str(manager.adapter.driver.uid)  # type: ignore[attr-defined]

    def socket_info(s: Any) -> dict[str, Any]:
        return {
            "id": s.sid,
            "rooms": sorted(s.rooms),
            "data": _jsonable(s.data),
            "handshake": _jsonable(dict(s.handshake)),
            "local": s.local,
        }

    async def cmd_emit(p: dict[str, Any]) -> Any:
        await sio.emit(
            p["event"],
            _args(p),
            to=_names(p.get("rooms")),
            skip_sid=_names(p.get("except")),
            namespace=p.get("nsp"),
            volatile=bool(p.get("volatile")),
            ignore_queue=bool(p.get("local")),
        )
        return True

    async def cmd_emit_with_ack(p: dict[str, Any]) -> Any:
        try:
            return await sio.emit_with_ack(
                p["event"],
                _args(p),
                to=_names(p.get("rooms")),
                skip_sid=_names(p.get("except")),
                namespace=p.get("nsp"),
                timeout=p.get("timeoutMs", 2000) / 1000,
            )
        except AcksMissingError as exc:
            return {"error": str(exc), "responses": exc.responses}

    async def cmd_fetch(p: dict[str, Any]) -> Any:
        t = p.get("timeoutMs")
        found = await sio.fetch_sockets(
            to=_names(p.get("rooms")),
            skip_sid=_names(p.get("except")),
            namespace=p.get("nsp"),
            timeout=None if t is None else t / 1000,
        )
        infos = [socket_info(s) for s in found]
        return {"error": f"missing {found.missing}", "responses": infos} if found.missing else infos

    async def cmd_remote(p: dict[str, Any]) -> Any:
        found = [s for s in await sio.fetch_sockets(to=p["sid"], namespace=p.get("nsp")) if s.sid == p["sid"]]
        if not found:
            raise RuntimeError(f"no socket {p['sid']} in the cluster")
        sock, args = found[0], _args(p)
        op = p["op"]
        if op == "emit":
            await sock.emit(args[0], tuple(args[1:]))
        elif op == "join":
            await sock.join(args[0])
        elif op == "leave":
            await sock.leave(args[0])
        elif op == "disconnect":
            await sock.disconnect(bool(args[0]) if args else False)
        else:
            raise ValueError(f"unknown remoteSocket op {op}")
        return {"local": sock.local}

    async def cmd_sse(p: dict[str, Any]) -> Any:
        await sio.server_side_emit(p["event"], *_args(p), namespace=p.get("nsp"))
        return True

    async def cmd_sse_ack(p: dict[str, Any]) -> Any:
        t = p.get("timeoutMs")
        answers = await sio.server_side_call(
            p["event"], *_args(p), namespace=p.get("nsp"), timeout=timeout if t is None else t / 1000
        )
        return _partial(answers)

    async def cmd_sockets_join(p: dict[str, Any]) -> Any:
        await sio.sockets_join(
            _names(p.get("join")) or [],
            to=_names(p.get("rooms")),
            skip_sid=_names(p.get("except")),
            namespace=p.get("nsp"),
        )
        return True

    async def cmd_sockets_leave(p: dict[str, Any]) -> Any:
        await sio.sockets_leave(
            _names(p.get("leave")) or [],
            to=_names(p.get("rooms")),
            skip_sid=_names(p.get("except")),
            namespace=p.get("nsp"),
        )
        return True

    async def cmd_disconnect(p: dict[str, Any]) -> Any:
        await sio.disconnect_sockets(
            to=_names(p.get("rooms")),
            skip_sid=_names(p.get("except")),
            namespace=p.get("nsp"),
            close=bool(p.get("close")),
        )
        return True

    async def cmd_server_count(p: dict[str, Any]) -> Any:
        return await sio.server_count(namespace=p.get("nsp"))

    async def cmd_local_state(p: dict[str, Any]) -> Any:
        ns = p.get("nsp") or "/"
        adapter = manager.adapter
        sockets = list(adapter.participants(ns, None))
        rooms = {room: sorted(adapter.participants(ns, room)) for room in adapter.room_names(ns)}
        return {"uid": adapter_uid(), "sockets": sockets, "rooms": rooms}

    async def cmd_set_data(p: dict[str, Any]) -> Any:
        await sio.save_session(p["sid"], from_wire(p["data"]), namespace=p.get("nsp"))
        return True

    async def cmd_join(p: dict[str, Any]) -> Any:
        for room in _names(p.get("rooms")) or []:
            await sio.enter_room(p["sid"], room, namespace=p.get("nsp"))
        return sio.rooms(p["sid"], namespace=p.get("nsp"))

    async def cmd_leave(p: dict[str, Any]) -> Any:
        for room in _names(p.get("rooms")) or []:
            await sio.leave_room(p["sid"], room, namespace=p.get("nsp"))
        return sio.rooms(p["sid"], namespace=p.get("nsp"))

    async def cmd_on_server_side(p: dict[str, Any]) -> Any:
        reply = from_wire(p.get("reply"))
        ns = p.get("nsp") or "/"
        event = p["event"]

        def handler(*args: Any) -> Any:
            out({"event": "server-side", "nsp": ns, "name": event, "args": list(args)})
            return reply

        sio.on_server_event(event, handler, namespace=ns)
        return True

    async def cmd_settle(p: dict[str, Any]) -> Any:
        return True

    stopping = asyncio.Event()

    async def cmd_exit(p: dict[str, Any]) -> Any:
        stopping.set()
        return True

    commands = {
        "emit": cmd_emit,
        "emitWithAck": cmd_emit_with_ack,
        "fetchSockets": cmd_fetch,
        "remoteSocket": cmd_remote,
        "serverSideEmit": cmd_sse,
        "serverSideEmitWithAck": cmd_sse_ack,
        "socketsJoin": cmd_sockets_join,
        "socketsLeave": cmd_sockets_leave,
        "disconnectSockets": cmd_disconnect,
        "serverCount": cmd_server_count,
        "localState": cmd_local_state,
        "setData": cmd_set_data,
        "join": cmd_join,
        "leave": cmd_leave,
        "onServerSide": cmd_on_server_side,
        "settle": cmd_settle,
        "exit": cmd_exit,
    }

    return sio, commands, stopping


async def _serve(config: dict[str, Any]) -> None:
    from aiohttp import web

    sio, commands, stopping = make_node(config)
    name = config.get("name", "P")
    nsps: list[str] = config.get("nsps", ["/", "/admin"])
    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = int(runner.addresses[0][1])
    uid = sio.manager.adapter.driver.uid
    _out(
        {
            "event": "ready",
            "name": name,
            "profile": "classic",
            "port": port,
            "pid": os.getpid(),
            "uids": {ns: uid for ns in nsps},
        }
    )

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tasks: set[asyncio.Task[None]] = set()

    async def run(cmd: dict[str, Any]) -> None:
        t0 = loop.time()
        handler = commands.get(cmd.get("cmd", ""))
        try:
            if handler is None:
                raise ValueError(f"unknown command {cmd.get('cmd')}")
            reply = {"id": cmd["id"], "ok": True, "result": _jsonable(await handler(cmd))}
        except Exception as exc:
            reply = {"id": cmd["id"], "ok": False, "error": str(exc)}
        reply["ms"] = int((loop.time() - t0) * 1000)
        _out(reply)

    async def read_commands() -> None:
        while True:
            line = await reader.readline()
            if not line:
                break
            if not line.strip():
                continue
            task = loop.create_task(run(json.loads(line)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    read_task = loop.create_task(read_commands())
    watchdog = loop.call_later(config.get("watchdogMs", 120000) / 1000, stopping.set)
    done_reading = loop.create_task(stopping.wait())
    await asyncio.wait({read_task, done_reading}, return_when=asyncio.FIRST_COMPLETED)
    watchdog.cancel()
    read_task.cancel()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(sio.shutdown(), 3)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(runner.cleanup(), 2)
    sys.stdout.flush()


if __name__ == "__main__":
    import logging

    # ``aiosio serve``'s line format: the tests read ERROR lines (and tracebacks) from stderr
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    asyncio.run(_serve(json.loads(sys.argv[1])))

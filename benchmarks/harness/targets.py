"""The servers under test and how to start each of them."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from harness.scenarios import ALL_SCENARIOS, REDIS_SCENARIOS

SERVERS = Path(__file__).resolve().parent.parent / "servers"
SRC = Path(__file__).resolve().parents[2] / "src"


@dataclass(frozen=True)
class Target:
    """One server implementation on one event loop."""

    name: str
    label: str
    # The server command line, without `--port N` (nor `--redis URL`, which the cluster scenarios
    # append: every target that runs them takes it).
    argv: tuple[str, ...]
    # Scenarios this target cannot run (recorded as skipped, not as failures).
    skips: frozenset[str] = field(default_factory=frozenset)
    # False: the server (several processes) is not pinned to the first core; it may use every
    # core, the load generator's included (the --workers targets on a 2-core machine).
    pinned: bool = True
    # Worker processes of an ``aiosio run --workers N`` (0: the server is one process).
    workers: int = 0
    # Why this target cannot run here (its records are skipped with this reason); "" if it can.
    unavailable: str = ""


def _python(script: str, *args: str) -> tuple[str, ...]:
    """argv running a server script with the interpreter that runs the benchmark."""
    return (sys.executable, str(SERVERS / script), *args)


#: A source tree (its ``src`` folder) of another aiosio version, for a before/after comparison in one
#: run: ``AIOSIO_BENCH_REF=/tmp/base/src benchmarks/run.py --targets aiosio,aiosio-ref``;
#: ``AIOSIO_BENCH_REF_LABEL`` names it in the report (default: its path), e.g. "aiosio pure Python"
#: for a worktree of the same commit without the compiled modules.
REF_ENV, REF_LABEL_ENV = "AIOSIO_BENCH_REF", "AIOSIO_BENCH_REF_LABEL"


def _reference() -> list[Target]:
    ref = os.environ.get(REF_ENV)
    if not ref:
        return []
    label = os.environ.get(REF_LABEL_ENV) or f"aiosio {ref}"
    env = ("env", f"PYTHONPATH={ref}")
    # A version from before the Redis adapters skips the cluster scenarios.
    has_redis = (Path(ref) / "aiosio" / "server" / "redis_manager.py").exists()
    skips = frozenset() if has_redis else REDIS_SCENARIOS
    return [
        Target(
            "aiosio-ref",
            f"{label} (asyncio)",
            (*env, *_python("sio_server.py", "--impl", "aiosio")),
            skips=skips,
        ),
        Target(
            "aiosio-ref-uvloop",
            f"{label} (uvloop)",
            (*env, *_python("sio_server.py", "--impl", "aiosio", "--loop", "uvloop")),
            skips=skips,
        ),
    ]


#: The Python 3.12 virtualenv ``scripts/test`` creates (aiosio editable, the dev extras): the
#: targets ``aiosio-py312`` and ``psio-py312`` run the same server script with it (on request only;
#: skipped, with the reason, where it does not exist).
PY312 = Path(__file__).resolve().parents[2] / ".venv312" / "bin" / "python"


def _py312() -> list[Target]:
    missing = "" if PY312.exists() else f"{PY312} missing (scripts/test creates it where pyenv has 3.12)"
    argv = (str(PY312), str(SERVERS / "sio_server.py"))
    return [
        Target(
            "aiosio-py312", "aiosio (asyncio, Python 3.12)", (*argv, "--impl", "aiosio"), unavailable=missing
        ),
        Target(
            "psio-py312",
            "python-socketio (asyncio, Python 3.12)",
            (*argv, "--impl", "psio"),
            unavailable=missing,
        ),
    ]


#: aiosio has a sharded Redis adapter (``AsyncRedisManager(url, mode="sharded")``): then the
#: targets ``aiosio-sharded`` and ``node-sharded`` (``createShardedAdapter``) run the cluster
#: scenarios (only those: without Redis they are ``aiosio`` and ``node``).
SHARDED = (SRC / "aiosio" / "adapters" / "redis" / "sharded.py").exists()
_ONLY_REDIS = frozenset(s.name for s in ALL_SCENARIOS) - REDIS_SCENARIOS


def _sharded(node: str) -> list[Target]:
    if not SHARDED:
        return []
    return [
        Target(
            "aiosio-sharded",
            "aiosio sharded (asyncio)",
            _python("sio_server.py", "--impl", "aiosio", "--redis-mode", "sharded"),
            skips=_ONLY_REDIS,
        ),
        Target(
            "node-sharded",
            "Node socket.io 4.8 sharded",
            (node, str(SERVERS / "node_server.js"), "--redis-mode", "sharded"),
            skips=_ONLY_REDIS,
        ),
    ]


def _workers(count: int) -> Target:
    """``aiosio run workers_app:app --workers count`` (asyncio's loop, no access log)."""
    argv = (
        sys.executable,
        "-m",
        "aiosio.cli.main",
        "run",
        "workers_app:app",
        "--app-dir",
        str(SERVERS),
        "--host",
        "127.0.0.1",
        "--workers",
        str(count),
        "--loop",
        "asyncio",
        "--no-access-log",
        "--log-level",
        "warning",
    )
    label = f"aiosio run --workers {count} (asyncio)"
    return Target(
        f"aiosio-workers{count}",
        label,
        argv,
        skips=REDIS_SCENARIOS,
        pinned=count == 1,
        workers=count if count > 1 else 0,
    )


def all_targets() -> list[Target]:
    """Every known target, the default ones first and in report order."""
    node = shutil.which("node") or "node"
    return [
        *_reference(),
        Target("aiosio", "aiosio (asyncio)", _python("sio_server.py", "--impl", "aiosio")),
        Target(
            "aiosio-uvloop",
            "aiosio (uvloop)",
            _python("sio_server.py", "--impl", "aiosio", "--loop", "uvloop"),
        ),
        # aiosio with aiosio.metrics on (counting everything, /metrics served): its cost is the
        # difference to aiosio in the same run. On request only.
        Target(
            "aiosio-metrics",
            "aiosio + metrics (asyncio)",
            _python("sio_server.py", "--impl", "aiosio", "--metrics"),
            skips=REDIS_SCENARIOS,
        ),
        Target("psio", "python-socketio (asyncio)", _python("sio_server.py", "--impl", "psio")),
        *_py312(),
        Target(
            "psio-uvloop",
            "python-socketio (uvloop)",
            _python("sio_server.py", "--impl", "psio", "--loop", "uvloop"),
        ),
        # Each library's ASGIApp under uvicorn (h11, wsproto), with the same handlers and options.
        Target(
            "aiosio-asgi",
            "aiosio ASGIApp, uvicorn (asyncio)",
            _python("asgi_server.py", "--impl", "aiosio"),
            skips=REDIS_SCENARIOS,
        ),
        Target(
            "psio-asgi",
            "python-socketio ASGIApp, uvicorn (asyncio)",
            _python("asgi_server.py", "--impl", "psio"),
            skips=REDIS_SCENARIOS,
        ),
        # `aiosio run --workers N` (on request): 1 is one process; with 2 the two workers and
        # the load generator share the machine's cores (not pinned), and a polling request may
        # land on the worker that does not own its session (scenario polling-handoff).
        *(_workers(n) for n in (1, 2)),
        Target("node", "Node socket.io 4.8", (node, str(SERVERS / "node_server.js"))),
        *_sharded(node),
        # The ceiling: websocket and long-polling transports (the polling scenario's ceiling too),
        # no cluster.
        Target(
            "bare",
            "bare aiohttp (asyncio)",
            _python("bare_server.py"),
            skips=REDIS_SCENARIOS,
        ),
        Target(
            "bare-uvloop",
            "bare aiohttp (uvloop)",
            _python("bare_server.py", "--loop", "uvloop"),
            skips=REDIS_SCENARIOS,
        ),
    ]


# The targets run when --targets is not given; bare-uvloop, aiosio-metrics, the --workers ones and
# the py312 ones are available on request.
DEFAULT_TARGETS = (
    "aiosio",
    "aiosio-uvloop",
    "psio",
    "psio-uvloop",
    "aiosio-asgi",
    "psio-asgi",
    "node",
    *(("aiosio-sharded", "node-sharded") if SHARDED else ()),
    "bare",
)

# The reference every ratio in the report is computed against.
BASELINE = "aiosio"

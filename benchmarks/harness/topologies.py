"""What one run of a scenario starts: one server, two servers sharing a redis-server, or one server
without and then with Redis (the scenario's ``topology``); each returns the generator's result.

Pinning: every server on the first core (the two of a cluster share it), the load generator and the
redis-server on the second.
"""

from __future__ import annotations

import contextlib
from typing import Any, TextIO

from harness import procs
from harness.redis_server import redis_server
from harness.scenarios import Scenario
from harness.targets import Target

Cores = tuple[str | None, str | None]


def _died(*servers: Any) -> dict[str, Any] | None:
    """A failure record if one of `servers` (Popen objects) has exited, else None."""
    for i, proc in enumerate(servers, 1):
        if proc.poll() is not None:
            which = f"server {i}" if len(servers) > 1 else "server"
            return {"ok": False, "error": f"{which} died (exit code {proc.returncode})"}
    return None


def with_efficiency(result: dict[str, Any]) -> dict[str, Any]:
    """`result` with ``deliveries_per_cpu_s``, deliveries per second of server CPU (a cluster's two).

    It is the number a busy machine disturbs least: a server that loses its core to another process
    loses deliveries/s, not deliveries per CPU-second.
    """
    metrics, cpu = result.get("metrics"), result.get("server_cpu")
    if not result.get("ok") or not metrics or not cpu:
        return result
    per_cpu = round(metrics["deliveries_per_s"] / cpu, 1)
    return {**result, "metrics": {**metrics, "deliveries_per_cpu_s": per_cpu}}


def single(
    argv: list[str],
    scenario: Scenario,
    quick: bool,
    cores: Cores,
    log: TextIO,
    redis: tuple[int, str] | None = None,
    workers: int = 0,
) -> dict[str, Any]:
    """One fresh server of `argv`; with `redis` (pid, URL) it is given ``--redis URL``.

    A server of `workers` worker processes (``aiosio run --workers N``, N > 1: a supervisor and its
    workers) has its CPU summed over all of them."""
    if redis is not None:
        argv = [*argv, "--redis", redis[1]]
    with procs.server(argv, cores[0], log) as (proc, port):
        pids = procs.wait_children(proc, workers) if workers > 1 else []
        result = procs.run_loadgen(
            scenario.loadgen_args(quick),
            port,
            proc.pid,
            cores,
            scenario.budget_seconds(),
            log,
            more_pids=pids,
            redis_pid=None if redis is None else redis[0],
        )
        return _died(proc) or (result if scenario.topology == "single" else with_efficiency(result))


def cluster(target: Target, scenario: Scenario, quick: bool, cores: Cores, log: TextIO) -> dict[str, Any]:
    """A fresh redis-server and two servers of `target` on it; the clients are split between them."""
    with contextlib.ExitStack() as stack:
        redis, url = stack.enter_context(redis_server(cores[1], log))
        argv = [*target.argv, "--redis", url]
        first, port1 = stack.enter_context(procs.server(argv, cores[0], log))
        second, port2 = stack.enter_context(procs.server(argv, cores[0], log))
        result = procs.run_loadgen(
            scenario.loadgen_args(quick),
            port1,
            first.pid,
            cores,
            scenario.budget_seconds(),
            log,
            port2=port2,
            more_pids=(second.pid,),
            redis_pid=redis.pid,
        )
        return _died(first, second) or with_efficiency(result)


def redis_cost(
    target: Target, scenario: Scenario, quick: bool, cores: Cores, log: TextIO, run: int
) -> dict[str, Any]:
    """The load on a server without Redis and on one with Redis configured (a fresh redis-server).

    The order alternates with the run number so that drift in the machine's load is not always
    charged to the same side. The record is the with-Redis run's, plus ``plain_deliveries_per_s``,
    ``kept_pct`` (with / without, in %) and ``kept_cpu_pct`` (the same per CPU-second of the server)
    in its metrics, and the other run under ``without_redis``.
    """
    order = ("without", "with") if run % 2 else ("with", "without")
    results: dict[str, dict[str, Any]] = {}
    for side in order:
        print(f"--- redis-cost: {side} Redis", file=log, flush=True)
        if side == "without":
            results[side] = single(list(target.argv), scenario, quick, cores, log)
        else:
            with redis_server(cores[1], log) as (redis, url):
                results[side] = single(list(target.argv), scenario, quick, cores, log, (redis.pid, url))
        if not results[side].get("ok"):
            return {**results[side], "error": f"{side} Redis: {results[side].get('error')}"}
    with_redis, without = results["with"], results["without"]
    rate = with_redis["metrics"]["deliveries_per_s"]
    plain = without["metrics"]["deliveries_per_s"]
    per_cpu = with_redis["metrics"].get("deliveries_per_cpu_s")
    plain_per_cpu = without["metrics"].get("deliveries_per_cpu_s")
    metrics = {
        **with_redis["metrics"],
        "plain_deliveries_per_s": plain,
        "kept_pct": round(100 * rate / plain, 1) if plain else None,
        "kept_cpu_pct": round(100 * per_cpu / plain_per_cpu, 1) if per_cpu and plain_per_cpu else None,
    }
    return {**with_redis, "metrics": metrics, "without_redis": without}


def run_scenario(
    target: Target, scenario: Scenario, quick: bool, cores: Cores, log: TextIO, run: int
) -> dict[str, Any]:
    """Run `scenario` once against `target` in the scenario's topology."""
    if scenario.topology == "cluster":
        return cluster(target, scenario, quick, cores, log)
    if scenario.topology == "redis-cost":
        return redis_cost(target, scenario, quick, cores, log, run)
    if not target.pinned:
        cores = (None, cores[1])  # the server's processes may use any core
    return single(list(target.argv), scenario, quick, cores, log, workers=target.workers)

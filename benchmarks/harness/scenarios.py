"""The benchmark scenarios: the load generator's arguments and what the report shows of each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """One number of a scenario's result, as shown in the report."""

    key: str
    header: str
    higher_is_better: bool = True
    digits: int = 0
    compare: bool = True  # a headline metric shows its ratio to the baseline (not for shares)


@dataclass(frozen=True)
class Scenario:
    """A load-generator scenario with fixed parameters; `headline` metrics go in the summary."""

    name: str
    kind: str  # the loadgen.js scenario function
    title: str
    params: dict[str, float]
    metrics: tuple[Metric, ...]
    headline: tuple[str, ...]
    timed: bool = True  # has a warm-up and a measurement window
    # What runs: "single" (one server), "cluster" (two servers of the target sharing a fresh
    # redis-server, the generator's clients split between them) or "redis-cost" (the load once on
    # a server without Redis and once on one with Redis configured; the record holds both).
    topology: str = "single"
    # Run only when named (``--scenarios polling-handoff``), not in a default run.
    on_request: bool = False
    # An on-request scenario's group: ``--scenarios <group>`` selects all of it (the curve points).
    group: str = ""
    # The generator's timeout in seconds (None: `budget_seconds`' default); a run over it is
    # recorded as timed out, its processes stopped.
    budget: float | None = None

    def loadgen_args(self, quick: bool) -> list[str]:
        """Arguments for loadgen.js; `quick` shortens the warm-up and measurement windows."""
        params = dict(self.params)
        if quick and self.timed:
            params["warmup"] = 0.5
            params["duration"] = 2
        args = ["--scenario", self.kind]
        for key, value in params.items():
            args += [f"--{key}", f"{value:g}"]
        return args

    def budget_seconds(self) -> float:
        """A generous upper bound on the generator's run time, used as its timeout."""
        if self.budget is not None:
            return self.budget
        return 120 + self.params.get("warmup", 0) + self.params.get("duration", 0)


ACKS = Metric("acks_per_s", "acks/s")
DELIVERIES = Metric("deliveries_per_s", "deliveries/s")
P50 = Metric("p50_ms", "p50 ms", higher_is_better=False, digits=2)
P99 = Metric("p99_ms", "p99 ms", higher_is_better=False, digits=2)
BROADCASTS = Metric("broadcasts", "msgs done")
REDIS_CPU = Metric("redis_cpu_pct", "redis CPU %", higher_is_better=False)
PLAIN = Metric("plain_deliveries_per_s", "no Redis deliveries/s")
KEPT = Metric("kept_pct", "kept %", digits=1, compare=False)
PER_CPU = Metric("deliveries_per_cpu_s", "deliveries/CPU-s")
KEPT_CPU = Metric("kept_cpu_pct", "kept/CPU-s %", digits=1, compare=False)

# The cluster scenarios' load: fanout-1k's, after a probe broadcast has reached every client.
CLUSTER_LOAD = {"clients": 1000, "window": 1, "warmup": 1, "duration": 3, "probe": 1}


def fanout(clients: int, duration: float) -> Scenario:
    """Broadcast to all of `clients`, one broadcast outstanding at a time."""
    return Scenario(
        name=f"fanout-{clients // 1000}k",
        kind="fanout",
        title=f"{clients:,} clients, `bcast` to all, 1 in flight (p50/p99: send → last receipt)",
        params={"clients": clients, "window": 1, "warmup": 1, "duration": duration},
        metrics=(DELIVERIES, P50, P99, BROADCASTS),
        headline=("deliveries_per_s",),
    )


KIB_PER_CONN = Metric("kib_per_conn", "KiB/conn", higher_is_better=False, digits=1)

#: The curve's points (clients): ``--scenarios curve`` runs them all; ``run.py --curve-points``
#: replaces them (the tests use tiny ones).
CURVE_POINTS = (1000, 5000, 10_000, 20_000)


def curve_name(clients: int) -> str:
    """A curve point's scenario name: ``curve-5k`` (or ``curve-50`` below a round thousand)."""
    return f"curve-{clients // 1000}k" if clients % 1000 == 0 else f"curve-{clients}"


def curve_budget(clients: int) -> float:
    """A curve point's time bound in seconds: the generator's timeout (connecting, warm-up, window)."""
    return 15 + 0.004 * clients


def curve_point(clients: int) -> Scenario:
    """One point of the curve: fan-out to `clients` (as in ``fanout-1k``), and the server's idle
    RSS growth per connection, read after all of them connected and before the first broadcast.

    Bounded: connecting, the warm-up and the window must fit in `curve_budget` (15 s plus 4 ms a
    client: 19 s at 1,000, 95 s at 20,000, 2-3 times what the slowest default target, python-socketio,
    took on a busy machine); a slower target's point is recorded as timed out, never waited for."""
    return Scenario(
        name=curve_name(clients),
        kind="fanout",
        title=(
            f"curve: {clients:,} clients, `bcast` to all, 1 in flight (p50/p99: send → last receipt); "
            "KiB/conn = server RSS growth while they connected / clients"
        ),
        params={"clients": clients, "window": 1, "warmup": 1, "duration": 3, "rss": 1, "settle": 1},
        metrics=(DELIVERIES, P50, P99, BROADCASTS, KIB_PER_CONN),
        headline=("deliveries_per_s", "kib_per_conn"),
        on_request=True,
        group="curve",
        budget=curve_budget(clients),
    )


ALL_SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="echo",
        kind="echo",
        title="50 websocket clients, closed loop (p50/p99: ack latency)",
        params={"clients": 50, "warmup": 1, "duration": 3},
        metrics=(ACKS, P50, P99),
        headline=("acks_per_s",),
    ),
    fanout(1000, 3),
    # Longer: slow servers complete only a few 5,000-client broadcasts per second.
    fanout(5000, 4),
    Scenario(
        name="rooms",
        kind="rooms",
        title=(
            "5,000 clients in 100 rooms, `to_room` round-robin, 10 in flight (p50/p99: send → last receipt)"
        ),
        params={"clients": 5000, "rooms": 100, "window": 10, "warmup": 1, "duration": 3},
        metrics=(DELIVERIES, P50, P99, BROADCASTS),
        headline=("deliveries_per_s",),
    ),
    Scenario(
        name="polling",
        kind="polling",
        title="50 HTTP long-polling clients, closed echo loop (p50/p99: ack latency)",
        params={"clients": 50, "concurrency": 10, "warmup": 1, "duration": 3},
        metrics=(ACKS, P50, P99),
        headline=("acks_per_s",),
    ),
    Scenario(
        name="polling-handoff",
        kind="pollingFresh",
        title=(
            "the polling scenario with a new TCP connection for every request: against 2 workers "
            "about half of the requests land on the worker that does not own the session and are "
            "handed over (p50/p99: ack latency)"
        ),
        params={"clients": 50, "concurrency": 10, "warmup": 1, "duration": 3},
        metrics=(ACKS, P50, P99),
        headline=("acks_per_s",),
        on_request=True,
    ),
    Scenario(
        name="connections",
        kind="connections",
        title="10,000 idle websocket clients, 100 handshakes in flight",
        params={"clients": 10_000, "concurrency": 100, "settle": 2},
        metrics=(
            Metric("connects_per_s", "connects/s"),
            Metric("kib_per_conn", "KiB/conn", higher_is_better=False, digits=1),
            Metric("rss_before_mib", "RSS before MiB", higher_is_better=False, digits=1),
            Metric("rss_after_mib", "RSS after MiB", higher_is_better=False, digits=1),
            Metric("failures", "failed", higher_is_better=False),
        ),
        headline=("connects_per_s", "kib_per_conn"),
        timed=False,
    ),
    Scenario(
        name="cluster-fanout",
        kind="fanout",
        title=(
            "2 servers of the target sharing one Redis, 1,000 clients split half/half, `bcast` sent to "
            "server 1 reaches all, 1 in flight (p50/p99: send → last receipt on either server)"
        ),
        params=dict(CLUSTER_LOAD),
        metrics=(DELIVERIES, PER_CPU, P50, P99, BROADCASTS, REDIS_CPU),
        headline=("deliveries_per_s", "deliveries_per_cpu_s"),
        topology="cluster",
    ),
    Scenario(
        name="redis-cost",
        kind="fanout",
        title=(
            "fanout-1k's load on one server with Redis configured (its `AsyncRedisManager` / "
            "redis-adapter, nobody else on the Redis) and on the same server without, back to back; "
            "kept % = with / without"
        ),
        params=dict(CLUSTER_LOAD),
        metrics=(DELIVERIES, PLAIN, KEPT, KEPT_CPU, PER_CPU, P50, P99, BROADCASTS, REDIS_CPU),
        headline=("deliveries_per_s", "kept_pct", "kept_cpu_pct"),
        topology="redis-cost",
    ),
    *(curve_point(n) for n in CURVE_POINTS),
)

#: The scenarios that need a redis-server (and servers that can be given ``--redis URL``).
REDIS_SCENARIOS = frozenset(s.name for s in ALL_SCENARIOS if s.topology != "single")


def select(names: list[str] | None) -> list[Scenario]:
    """Scenarios whose name equals or starts with one of `names` ("fanout" selects both); without
    names, every scenario that is not run on request only (those are chosen by their full name, or
    by their group's: "curve" selects every curve point)."""
    if not names:
        return [s for s in ALL_SCENARIOS if not s.on_request]
    chosen = [
        s
        for s in ALL_SCENARIOS
        if any(s.name == n or n == s.group or (s.name.startswith(n) and not s.on_request) for n in names)
    ]
    unknown = [n for n in names if not any(s.name.startswith(n) for s in ALL_SCENARIOS)]
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(unknown)}")
    return chosen

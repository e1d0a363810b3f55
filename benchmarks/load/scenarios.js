// The benchmark scenarios. Each takes the parsed options and resolves to a result object whose
// `metrics` the orchestrator (benchmarks/run.py) stores and tabulates.
//
// Throughput is always counted inside a measurement window that starts after a warm-up: acks or
// deliveries *received* between t0 and t1, divided by t1 - t0, so a slow broadcast straddling
// the window edges is counted pro rata rather than all-or-nothing.
'use strict';

const { WsClient, connectMany, readInt } = require('./wire');
const { PollClient } = require('./polling');
const { Samples, CpuWindow, serverRssKiB, round } = require('./stats');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A small chat-like object; the same bytes for every echo, pre-encoded once.
const ECHO_PAYLOAD = {
  user: 'bench',
  text: 'hello from the load generator',
  n: 42,
  tags: ['a', 'b'],
};
const ECHO_ARGS = '"echo",' + JSON.stringify(ECHO_PAYLOAD);
const MSG_TEXT = JSON.stringify('x'.repeat(64));
const SEQ_KEY = Buffer.from('"seq":');
// Probe broadcasts (--probe) carry sequence numbers from here up; the pump ignores late copies.
const PROBE_BASE = 1_000_000_000;
const PROBE_WAIT_MS = 1000; // per probe, then the next one
const PROBE_TIMEOUT_MS = 30_000;

/** The `seq` number inside a `42["msg",{"seq":N,...}]` packet, tolerant of JSON whitespace. */
function seqOf(buf) {
  let i = buf.indexOf(SEQ_KEY);
  if (i < 0) return -1;
  i += SEQ_KEY.length;
  while (buf[i] === 0x20) i++;
  return readInt(buf, i);
}

/**
 * Connects `n` websocket clients or throws if any fails (scenarios other than `connections`).
 * With `opts.port2` (two servers) client i goes to the second server when i is odd: half of them
 * each, client 0 on the first.
 */
async function connectAll(opts, n, onEvent) {
  const portOf = (i) => (opts.port2 && i % 2 === 1 ? opts.port2 : opts.port);
  const make = (i) => new WsClient(portOf(i), onEvent);
  const { clients, failures } = await connectMany(n, opts.concurrency, make);
  if (failures) throw new Error(`${failures} of ${n} clients failed to connect`);
  return clients;
}

/** Checks once per client that the echo ack carries the payload that was sent. */
function checkEchoAck(text) {
  const body = text.slice(text.indexOf('['));
  const got = JSON.stringify(JSON.parse(body)[0]);
  if (got !== JSON.stringify(ECHO_PAYLOAD)) {
    throw new Error(`echo ack mismatch: ${body.slice(0, 200)}`);
  }
}

/** Checks (once per scenario) that a `msg` packet carries the payload its sender emitted. */
function checkMsg(buf, frameFor) {
  const [name, payload] = JSON.parse(buf.toString('latin1', 2));
  const sent = JSON.parse('[' + frameFor(payload.seq) + ']');
  if (name !== 'msg' || JSON.stringify(payload) !== JSON.stringify(sent[sent.length - 1])) {
    throw new Error(`unexpected msg packet: ${buf.toString('latin1', 0, 200)}`);
  }
}

/**
 * Closed-loop echo on already connected clients: each client sends the next `echo` as soon as
 * the ack of the previous one arrives. Returns acks/s and ack latency percentiles.
 */
async function echoLoop(opts, clients) {
  const samples = new Samples();
  let measuring = false;
  let stopping = false;
  let acks = 0;
  let error = null;
  const next = (client, first) => {
    const sent = performance.now();
    client.emitWithAck(ECHO_ARGS, (ack) => {
      const now = performance.now();
      if (first) {
        try {
          checkEchoAck(ack.toString());
        } catch (err) {
          error = err;
        }
      }
      if (measuring) {
        acks++;
        samples.push(now - sent);
      }
      if (!stopping) next(client, false);
    });
  };
  for (const client of clients) next(client, true);
  await sleep(opts.warmup * 1000);
  const cpu = new CpuWindow(opts.serverPids, opts.clockTicks, opts.serverCore);
  const t0 = performance.now();
  measuring = true;
  await sleep(opts.duration * 1000);
  measuring = false;
  stopping = true;
  const seconds = (performance.now() - t0) / 1000;
  if (error) throw error;
  if (acks === 0) throw new Error('no acks in the measurement window');
  const lat = samples.summary();
  return {
    metrics: { acks_per_s: round(acks / seconds, 1), p50_ms: lat.p50, p99_ms: lat.p99 },
    ...cpu.stop(),
  };
}

/** `echo`: `clients` websocket clients in a closed echo loop. */
async function echo(opts) {
  const clients = await connectAll(opts, opts.clients);
  return { clients: clients.length, ...(await echoLoop(opts, clients)) };
}

/** `polling`: the echo loop over HTTP long polling (`fresh`: a new TCP connection per request). */
async function polling(opts, fresh = false) {
  const make = () => new PollClient(opts.port, fresh);
  const { clients, failures } = await connectMany(opts.clients, opts.concurrency, make);
  if (failures) throw new Error(`${failures} of ${opts.clients} polling clients failed to connect`);
  const result = await echoLoop(opts, clients);
  const broken = clients.find((c) => c.error);
  if (broken) throw broken.error;
  return { clients: clients.length, ...result };
}

/**
 * `pollingFresh`: `polling` with every request on a new TCP connection. Against `aiosio run
 * --workers N` each request lands on a worker the kernel picks, the wrong one (which hands it
 * over) about (N-1)/N of the time.
 */
async function pollingFresh(opts) {
  return polling(opts, true);
}

/**
 * Drives a stream of server-side broadcasts: `clients[0]` emits `frameFor(seq)` and every client
 * counts the `msg` packets it receives. At most `opts.window` broadcasts are outstanding; the
 * next is sent when one completes (every expected recipient has it).
 * Returns deliveries/s and the completion time (send → last recipient) percentiles.
 */
async function pump(opts, clients, frameFor, expectedFor) {
  const sender = clients[0];
  const pending = new Map(); // seq -> { sent, remaining }
  const samples = new Samples();
  let nextSeq = 0;
  let measuring = false;
  let stopping = false;
  let deliveries = 0;
  let strays = 0;
  let completed = 0;

  const send = () => {
    const seq = nextSeq++;
    pending.set(seq, { sent: performance.now(), remaining: expectedFor(seq) });
    sender.emit(frameFor(seq));
  };
  let checked = false;
  let error = null;
  const onEvent = (_client, buf) => {
    if (!checked) {
      checked = true;
      try {
        checkMsg(buf, frameFor);
      } catch (err) {
        error = err;
      }
    }
    const seq = seqOf(buf);
    const entry = pending.get(seq);
    if (entry === undefined) {
      if (seq < PROBE_BASE) strays++;
      return;
    }
    if (measuring) deliveries++;
    if (--entry.remaining === 0) {
      pending.delete(seq);
      if (measuring) {
        samples.push(performance.now() - entry.sent);
        completed++;
      }
      if (!stopping) send();
    }
  };
  for (const client of clients) client.onEvent = onEvent;

  for (let i = 0; i < opts.window; i++) send();
  await sleep(opts.warmup * 1000);
  const cpu = new CpuWindow(opts.serverPids, opts.clockTicks, opts.serverCore, opts.redisPid);
  const t0 = performance.now();
  measuring = true;
  await sleep(opts.duration * 1000);
  measuring = false;
  stopping = true;
  const seconds = (performance.now() - t0) / 1000;
  const usage = cpu.stop();
  if (error) throw error;
  if (strays) throw new Error(`${strays} msg packets with an unknown seq`);
  if (deliveries === 0) throw new Error('no deliveries in the measurement window');
  const lat = samples.summary();
  const metrics = {
    deliveries_per_s: round(deliveries / seconds, 1),
    broadcasts: completed,
    p50_ms: lat.p50,
    p99_ms: lat.p99,
  };
  if (usage.redis_cpu !== undefined) metrics.redis_cpu_pct = round(usage.redis_cpu * 100, 1);
  return { clients: clients.length, metrics, ...usage };
}

/**
 * Broadcasts `frameFor(PROBE_BASE + k)` from `clients[0]`, k = 0, 1, ..., until one reaches every
 * client: with a Redis adapter a broadcast published before the other server (or, for
 * python-socketio, the server itself) has subscribed is lost, and the one-in-flight pump would
 * wait for it forever. Resolves to the number of probes sent.
 */
async function probeUntilAll(clients, frameFor) {
  const deadline = performance.now() + PROBE_TIMEOUT_MS;
  for (let k = 0; ; k++) {
    const seq = PROBE_BASE + k;
    const seen = new Set();
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, PROBE_WAIT_MS);
      const onEvent = (client, buf) => {
        if (seqOf(buf) !== seq) return;
        seen.add(client);
        if (seen.size === clients.length) {
          clearTimeout(timer);
          resolve();
        }
      };
      for (const client of clients) client.onEvent = onEvent;
      clients[0].emit(frameFor(seq));
    });
    if (seen.size === clients.length) return k + 1;
    if (performance.now() > deadline) {
      throw new Error(
        `no broadcast reached all ${clients.length} clients in ${PROBE_TIMEOUT_MS / 1000} s ` +
          `(the last one reached ${seen.size})`,
      );
    }
  }
}

/**
 * `fanout`: `clients` connected, one of them repeatedly asks the server to `bcast` to all. With
 * `opts.port2` the clients are split between two servers sharing Redis and the sender's server
 * reaches the other half through Redis (cluster-fanout); `opts.probe` first waits until a
 * broadcast reaches everyone.
 */
async function fanout(opts) {
  // --rss 1 (the curve): the server's idle RSS growth per connection, read as in `connections`.
  let rssBefore = null;
  if (opts.rss) {
    const warm = await connectMany(20, 20, () => new WsClient(opts.port));
    for (const c of warm.clients) c.terminate();
    await sleep(500);
    rssBefore = serverRssKiB(opts.serverPid);
  }
  const clients = await connectAll(opts, opts.clients);
  let memory = {};
  if (opts.rss) {
    await sleep(opts.settle * 1000);
    const rssAfter = serverRssKiB(opts.serverPid);
    if (rssBefore !== null && rssAfter !== null) {
      memory = {
        kib_per_conn: round((rssAfter - rssBefore) / clients.length, 2),
        rss_before_mib: round(rssBefore / 1024, 1),
        rss_after_mib: round(rssAfter / 1024, 1),
      };
    }
  }
  const frameFor = (seq) => `"bcast",{"seq":${seq},"text":${MSG_TEXT}}`;
  const probes = opts.probe ? await probeUntilAll(clients, frameFor) : 0;
  const result = await pump(opts, clients, frameFor, () => clients.length);
  const extra = opts.probe ? { probes } : {};
  // Clients per server, for the cluster scenarios.
  if (opts.port2) {
    extra.split = [opts.port, opts.port2].map((p) => clients.filter((c) => c.port === p).length);
  }
  return { ...extra, ...result, metrics: { ...result.metrics, ...memory } };
}

/** `rooms`: `clients` spread round-robin over `rooms` rooms; `to_room` to each room in turn. */
async function rooms(opts) {
  const clients = await connectAll(opts, opts.clients);
  const sizes = new Array(opts.rooms).fill(0);
  // Joins go through the ack, so every client is in its room before the first message.
  let nextJoin = 0;
  const joiner = async () => {
    while (nextJoin < clients.length) {
      const i = nextJoin++;
      sizes[i % opts.rooms]++;
      const room = `"join","r${i % opts.rooms}"`;
      await new Promise((resolve) => clients[i].emitWithAck(room, resolve));
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, joiner));
  const frameFor = (seq) => `"to_room","r${seq % opts.rooms}",{"seq":${seq},"text":${MSG_TEXT}}`;
  return pump(opts, clients, frameFor, (seq) => sizes[seq % opts.rooms]);
}

/**
 * `connections`: ramps up `clients` idle websocket clients with bounded concurrency; reports the
 * connect rate and the server's RSS growth per connection.
 */
async function connections(opts) {
  // Warm-up so one-time costs of the first connections (lazy imports, caches) are not counted.
  const warm = await connectMany(20, 20, () => new WsClient(opts.port));
  for (const c of warm.clients) c.terminate();
  await sleep(500);
  const rssBefore = serverRssKiB(opts.serverPid);
  const cpu = new CpuWindow(opts.serverPid, opts.clockTicks, opts.serverCore);
  const make = () => new WsClient(opts.port);
  const { clients, failures, seconds } = await connectMany(opts.clients, opts.concurrency, make);
  const usage = cpu.stop();
  // A few failures are reported in the table; more would make the per-connection RSS meaningless.
  if (failures > opts.clients / 100) {
    throw new Error(`${failures} of ${opts.clients} clients failed to connect`);
  }
  // Let the server finish any per-connection work queued behind the last handshake.
  await sleep(opts.settle * 1000);
  const rssAfter = serverRssKiB(opts.serverPid);
  const perConn =
    rssBefore === null || rssAfter === null ? null : (rssAfter - rssBefore) / clients.length;
  return {
    clients: clients.length,
    metrics: {
      connects_per_s: round(clients.length / seconds, 1),
      failures,
      kib_per_conn: perConn === null ? null : round(perConn, 2),
      rss_before_mib: rssBefore === null ? null : round(rssBefore / 1024, 1),
      rss_after_mib: rssAfter === null ? null : round(rssAfter / 1024, 1),
    },
    ...usage,
  };
}

module.exports = { echo, polling, pollingFresh, fanout, rooms, connections };

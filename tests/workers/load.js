// Many npm socket.io-client connections (polling only) against `aiosio run tests/workers/app.py
// --workers N`, for tests/workers/test_workers.py. One JSON config argument:
//   {url, clients, emits, mode: "burst" | "steady", duration, retries, settle (steady; seconds), ackWait (ms),
//    websocket (how many of the clients use WebSocket only; the others poll), reconnection (default true)}
// "burst": every client learns its worker (pid), completes `emits` acked echoes, joins "all" and
//   "even"/"odd"; then two broadcasts are counted per client ("all" from client 0's worker, "even"
//   from a client on another worker). Prints one JSON result line.
// "steady": every client learns its worker, prints {"ready": ...}, then emits acked echoes until
//   `duration` passes (the test kills or replaces workers meanwhile); reconnections are counted.
//   Prints one JSON result line.
"use strict";

const { io } = require("socket.io-client");

const cfg = JSON.parse(process.argv[2]);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function connect(index) {
  const socket = io(cfg.url, {
    transports: index < (cfg.websocket || 0) ? ["websocket"] : ["polling"],
    forceNew: true,
    reconnection: cfg.reconnection ?? true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    timeout: 10000,
    ...(cfg.retries ? { retries: cfg.retries, ackTimeout: 3000 } : {}),
  });
  const state = {
    index,
    socket,
    pid: null,
    pids: [],
    transport: index < (cfg.websocket || 0) ? "websocket" : "polling",
    sids: [],
    connects: 0,
    disconnects: [],
    news: {},
    ok: 0,
    failed: 0,
    errors: [],
    lastPing: null,
    maxPingGap: 0, // ms between two PINGs (or the open and the first): interval + their trips
  };
  socket.io.on("open", () => {
    state.lastPing = Date.now();
  });
  socket.io.on("ping", () => {
    const now = Date.now();
    if (state.lastPing !== null) state.maxPingGap = Math.max(state.maxPingGap, now - state.lastPing);
    state.lastPing = now;
  });
  socket.on("connect", () => {
    state.connects += 1;
    state.sids.push(socket.io.engine.id);
    socket
      .timeout(10000)
      .emitWithAck("pid")
      .then((pid) => {
        if (state.pid === null) state.pid = pid;
        state.pids.push(pid);
      })
      .catch((err) => state.errors.push(`pid: ${err.message}`));
  });
  socket.on("disconnect", (reason, details) => {
    state.disconnects.push(reason);
    if (details && reason !== "transport close") state.errors.push(`disconnect: ${details.message || ""} ${details.description && (details.description.message || details.description)} ${details.context && details.context.status} ${details.context && details.context.responseText}`);
  });
  socket.on("connect_error", (err) => state.errors.push(`connect_error: ${err.message}`));
  socket.on("ask", (value, ack) => ack(index));
  socket.on("news", (token) => {
    state.news[token] = (state.news[token] || 0) + 1;
  });
  return state;
}

async function until(check, ms) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

async function burst(states) {
  await Promise.all(
    states.map(async (s) => {
      for (let i = 0; i < cfg.emits; i++) {
        try {
          const back = await s.socket.timeout(10000).emitWithAck("echo", { c: s.index, i });
          if (back && back.c === s.index && back.i === i) s.ok += 1;
          else {
            s.failed += 1;
            s.errors.push(`echo ${i}: ${JSON.stringify(back)}`);
          }
        } catch (err) {
          s.failed += 1;
          s.errors.push(`echo ${i}: ${err.message}`);
        }
      }
      await s.socket.timeout(10000).emitWithAck("join", "all");
      await s.socket.timeout(10000).emitWithAck("join", s.index % 2 ? "odd" : "even");
    }),
  );
  const first = states[0];
  const other = states.find((s) => s.pid !== first.pid) || first;
  const allPid = await first.socket.timeout(10000).emitWithAck("shout", "all", "t-all");
  const evenPid = await other.socket.timeout(10000).emitWithAck("shout", "even", "t-even");
  const evens = states.filter((s) => s.index % 2 === 0).length;
  await until(() => states.filter((s) => s.news["t-all"]).length === states.length, 10000);
  await until(() => states.filter((s) => s.news["t-even"]).length === evens, 10000);
  await sleep(300); // time for a duplicate, if any, to show up
  const servers = await first.socket.timeout(10000).emitWithAck("servers");
  const census = await other.socket.timeout(10000).emitWithAck("census");
  const acked = await first.socket.timeout(15000).emitWithAck("askall");
  const peers = await first.socket.timeout(10000).emitWithAck("peers");
  return { shoutPids: [allPid, evenPid], servers, census, acked, peers };
}

async function steady(states) {
  console.log(JSON.stringify({ ready: true, pids: states.map((s) => s.pid) }));
  const end = Date.now() + cfg.duration * 1000;
  await Promise.all(
    states.map(async (s) => {
      let i = 0;
      while (Date.now() < end) {
        i += 1;
        try {
          const back = await s.socket.timeout(cfg.ackWait ?? 15000).emitWithAck("echo", { c: s.index, i });
          if (back && back.i === i) s.ok += 1;
          else s.failed += 1;
        } catch (err) {
          s.failed += 1;
          s.errors.push(`echo ${i}: ${err.message}`);
        }
        await sleep(50);
      }
    }),
  );
  await until(() => states.every((s) => s.socket.connected && s.pids.length === s.connects), (cfg.settle ?? 10) * 1000);
  return {};
}

async function main() {
  const states = [];
  for (let start = 0; start < cfg.clients; start += 25) {
    const batch = [];
    for (let i = start; i < Math.min(cfg.clients, start + 25); i++) {
      const s = connect(i);
      states.push(s);
      batch.push(s);
    }
    await until(() => batch.every((s) => s.pid !== null), 20000);
  }
  const extra = cfg.mode === "burst" ? await burst(states) : await steady(states);
  const clients = states.map((s) => ({
    pid: s.pid,
    pids: s.pids,
    transport: s.transport,
    sids: s.sids,
    connects: s.connects,
    disconnects: s.disconnects,
    connected: s.socket.connected,
    news: s.news,
    ok: s.ok,
    failed: s.failed,
    errors: s.errors.slice(0, 5),
    maxPingGap: s.maxPingGap,
  }));
  console.log(JSON.stringify({ result: true, clients, ...extra }));
  for (const s of states) s.socket.close();
  process.exit(0);
}

main().catch((err) => {
  console.log(JSON.stringify({ result: true, fatal: String(err && err.stack) }));
  process.exit(1);
});

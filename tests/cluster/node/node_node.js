"use strict";
/*
 * One Node socket.io 4.8.4 server in a Redis cluster, driven by tests/cluster/node_peer.py.
 *
 * Usage: node node_node.js '<config JSON>'
 *   {"profile": "classic" | "sharded" | "streams", "redis": "redis://127.0.0.1:6379" | "cluster": ["redis://…", …],
 *    "name": "A", "port": 0, "nsps": ["/", "/admin"],
 *    "key": "socket.io", "requestsTimeout": 5000, "publishOnSpecificResponseChannel": false,  (classic)
 *    "channelPrefix": "socket.io", "subscriptionMode": "dynamic",                              (sharded)
 *    "streamName", "streamCount", "channelPrefix", "maxLen", "sessionKeyPrefix", ...           (streams)
 *    "csr": false, "pingInterval": 25000, "pingTimeout": 20000, "watchdogMs": 120000}
 *
 * stdin:  one JSON command per line {"id": 1, "cmd": "<name>", ...args}; commands run concurrently.
 * stdout: one JSON object per line: a reply {"id": 1, "ok": true, "result": …, "ms": …} or
 *         {"id": 1, "ok": false, "error": "message", "ms": …}, or an event {"event": "<name>", …}.
 * Binary values travel as {"$bin": "<hex>"} in both directions.
 * Before any reply is written, every (un)subscription the adapter started has been confirmed by Redis,
 * so a reply means the node's Redis subscriptions are in place (dynamic room channels included).
 *
 * The process exits on the "exit" command, when stdin closes, or after watchdogMs in any case.
 * The command and event vocabulary is documented in tests/cluster/node_peer.py.
 */
const http = require("http");
const readline = require("readline");
const { Server } = require("socket.io");
const { io: ioClient } = require("socket.io-client");
const { createClient, createCluster } = require("redis");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");

const config = JSON.parse(process.argv[2] || "{}");
const NAME = config.name || "node";
const PROFILE = config.profile || "classic";
const NSPS = config.nsps || ["/", "/admin"];
const started = Date.now();

setTimeout(() => {
  out({ event: "fatal", error: `watchdog expired after ${config.watchdogMs || 120000} ms` });
  process.exit(3);
}, config.watchdogMs || 120000).unref();

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

/* ---------------------------------------------------------------- binary <-> {"$bin": hex} */

function encode(value) {
  if (Buffer.isBuffer(value)) return { $bin: value.toString("hex") };
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("hex") };
  if (ArrayBuffer.isView(value)) {
    return { $bin: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex") };
  }
  if (value instanceof Set) return Array.from(value, encode);
  if (value instanceof Map) return Object.fromEntries(Array.from(value, ([k, v]) => [k, encode(v)]));
  if (value instanceof Error) return { $error: value.message };
  if (typeof value === "function") return undefined;
  if (Array.isArray(value)) return value.map((v) => (typeof v === "function" ? null : encode(v)));
  if (value !== null && typeof value === "object") {
    if (typeof value.toJSON === "function") return value.toJSON();
    const obj = {};
    for (const [k, v] of Object.entries(value)) if (typeof v !== "function") obj[k] = encode(v);
    return obj;
  }
  return value;
}

function decode(value) {
  if (Array.isArray(value)) return value.map(decode);
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "$bin") return Buffer.from(value.$bin, "hex");
    const obj = {};
    for (const [k, v] of Object.entries(value)) obj[k] = decode(v);
    return obj;
  }
  return value;
}

/* ---------------------------------------------------------------- Redis clients */

const pending = new Set(); // subscription promises not yet confirmed by Redis

function track(promise) {
  const p = Promise.resolve(promise).catch((err) => {
    out({ event: "redis-error", client: "sub", error: String((err && err.message) || err) });
  });
  pending.add(p);
  p.finally(() => pending.delete(p));
  return promise;
}

async function settle() {
  while (pending.size) await Promise.all(Array.from(pending));
}

function trackSubscriptions(client) {
  for (const m of ["subscribe", "pSubscribe", "sSubscribe", "unsubscribe", "pUnsubscribe", "sUnsubscribe"]) {
    if (typeof client[m] !== "function") continue;
    const orig = client[m].bind(client);
    client[m] = (...args) => track(orig(...args));
  }
}

function makeRedis() {
  if (config.cluster) {
    return createCluster({ rootNodes: config.cluster.map((url) => ({ url })) });
  }
  return createClient({ url: config.redis });
}

function onRedisError(which) {
  return (err) => out({ event: "redis-error", client: which, error: String((err && err.message) || err) });
}

/* ---------------------------------------------------------------- server */

const clients = new Map(); // cid -> socket.io-client Socket
let nextCid = 0;
let pub;
let sub;
let io;
let httpServer;
let emitter;

function nspOf(p) {
  return io.of(p.nsp || "/");
}

function list(v) {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

function operator(p) {
  let op = nspOf(p);
  const rooms = list(p.rooms);
  const except = list(p.except);
  if (rooms.length) op = op.to(rooms);
  if (except.length) op = op.except(except);
  if (p.volatile) op = op.volatile;
  if (p.local) op = op.local;
  if (p.compress === false) op = op.compress(false);
  return op;
}

function setupNamespace(nsp) {
  const origOnSSE = nsp._onServerSideEmit.bind(nsp);
  nsp._onServerSideEmit = (args) => {
    const ack = typeof args[args.length - 1] === "function";
    const shown = ack ? args.slice(0, -1) : args;
    out({ event: "server-side", nsp: nsp.name, name: shown[0], args: encode(shown.slice(1)), ack });
    return origOnSSE(args);
  };
  nsp.on("connection", (socket) => {
    const auth = socket.handshake.auth || {};
    if (auth.data !== undefined) socket.data = auth.data;
    out({
      event: "connection",
      nsp: nsp.name,
      sid: socket.id,
      recovered: !!socket.recovered,
      rooms: Array.from(socket.rooms),
      auth: encode(auth),
    });
    socket.on("disconnect", (reason) => {
      out({ event: "disconnect", nsp: nsp.name, sid: socket.id, reason });
    });
    socket.onAny((name, ...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      out({ event: "socket-event", nsp: nsp.name, sid: socket.id, name, args: encode(args), ack: !!ack });
      if (ack) ack({ server: NAME, ev: name });
    });
  });
}

function socketInfo(s) {
  return {
    id: s.id,
    rooms: Array.from(s.rooms),
    data: encode(s.data),
    handshake: encode(s.handshake),
    local: !!s.server,
  };
}

function localSocket(p) {
  const socket = nspOf(p).sockets.get(p.sid);
  if (!socket) throw new Error(`no local socket ${p.sid} in ${nspOf(p).name}`);
  return socket;
}

async function withAck(promise) {
  try {
    return await promise;
  } catch (err) {
    return { error: err.message, responses: encode(err.responses === undefined ? null : err.responses) };
  }
}

/* ---------------------------------------------------------------- clients inside this process */

function startClient(p) {
  const cid = p.cid || `c${++nextCid}`;
  if (clients.has(cid)) throw new Error(`client ${cid} exists`);
  const opts = { forceNew: true, reconnection: !!p.reconnection, timeout: 10000 };
  if (p.transports) opts.transports = p.transports;
  if (p.auth) opts.auth = decode(p.auth);
  if (p.query) opts.query = p.query;
  if (p.path) opts.path = p.path;
  if (p.parser === "msgpack") opts.parser = require("socket.io-msgpack-parser");
  const ackPrefix = p.ackPrefix === undefined ? "ack-me" : p.ackPrefix;
  const socket = ioClient(p.url + (p.nsp && p.nsp !== "/" ? p.nsp : ""), opts);
  clients.set(cid, socket);
  socket.on("connect", () => {
    out({ event: "client-connect", cid, sid: socket.id, recovered: !!socket.recovered });
  });
  socket.on("connect_error", (err) => {
    out({ event: "client-connect_error", cid, error: err.message });
  });
  socket.on("disconnect", (reason) => out({ event: "client-disconnect", cid, reason }));
  socket.onAny((name, ...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    out({ event: "client-event", cid, name, args: encode(args), ack: !!ack });
    if (ack && ackPrefix !== null && name.startsWith(ackPrefix)) ack({ client: cid, ev: name });
  });
  if (p.wait === false) return Promise.resolve({ cid });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`client ${cid} did not connect`)), p.timeoutMs || 8000);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve({ cid, sid: socket.id, recovered: !!socket.recovered });
    });
    socket.once("connect_error", (err) => {
      if (socket.active) return; // it retries (reconnection on)
      clearTimeout(timer);
      reject(new Error(`connect_error: ${err.message}`));
    });
  });
}

function client(p) {
  const socket = clients.get(p.cid);
  if (!socket) throw new Error(`no client ${p.cid}`);
  return socket;
}

/* ---------------------------------------------------------------- commands */

const commands = {
  async emit(p) {
    return operator(p).emit(p.event, ...decode(list(p.args)));
  },
  async emitWithAck(p) {
    const op = operator(p).timeout(p.timeoutMs === undefined ? 2000 : p.timeoutMs);
    return withAck(op.emitWithAck(p.event, ...decode(list(p.args))));
  },
  async fetchSockets(p) {
    let op = operator(p);
    if (p.timeoutMs !== undefined) op = op.timeout(p.timeoutMs);
    return (await op.fetchSockets()).map(socketInfo);
  },
  async remoteSocket(p) {
    const found = (await nspOf(p).in(p.sid).fetchSockets()).find((s) => s.id === p.sid);
    if (!found) throw new Error(`no socket ${p.sid} in the cluster`);
    const args = decode(list(p.args));
    const local = !!found.server;
    switch (p.op) {
      case "emit":
        if (p.timeoutMs !== undefined) return withAck(found.timeout(p.timeoutMs).emitWithAck(...args));
        found.emit(...args);
        return { local };
      case "join":
        await found.join(args.length === 1 ? args[0] : args);
        return { local };
      case "leave":
        await found.leave(args[0]);
        return { local };
      case "disconnect":
        found.disconnect(!!args[0]);
        return { local };
      default:
        throw new Error(`unknown remoteSocket op ${p.op}`);
    }
  },
  async serverSideEmit(p) {
    return nspOf(p).serverSideEmit(p.event, ...decode(list(p.args)));
  },
  async serverSideEmitWithAck(p) {
    return withAck(nspOf(p).serverSideEmitWithAck(p.event, ...decode(list(p.args))));
  },
  async socketsJoin(p) {
    operator(p).socketsJoin(list(p.join));
    return true;
  },
  async socketsLeave(p) {
    operator(p).socketsLeave(list(p.leave));
    return true;
  },
  async disconnectSockets(p) {
    operator(p).disconnectSockets(!!p.close);
    return true;
  },
  async serverCount(p) {
    return nspOf(p).adapter.serverCount();
  },
  async rooms(p) {
    return Array.from(await nspOf(p).adapter.allRooms());
  },
  async localState(p) {
    const nsp = nspOf(p);
    const rooms = {};
    for (const [room, sids] of nsp.adapter.rooms) rooms[room] = Array.from(sids);
    return { uid: nsp.adapter.uid, sockets: Array.from(nsp.sockets.keys()), rooms };
  },
  async setData(p) {
    localSocket(p).data = decode(p.data);
    return true;
  },
  async join(p) {
    localSocket(p).join(list(p.rooms));
    return Array.from(localSocket(p).rooms);
  },
  async leave(p) {
    const socket = localSocket(p);
    for (const room of list(p.rooms)) socket.leave(room);
    return Array.from(socket.rooms);
  },
  async socketEmit(p) {
    const socket = localSocket(p);
    const args = decode(list(p.args));
    if (p.timeoutMs !== undefined) return withAck(socket.timeout(p.timeoutMs).emitWithAck(p.event, ...args));
    return socket.emit(p.event, ...args);
  },
  async onServerSide(p) {
    const has = Object.prototype.hasOwnProperty.call(p, "reply");
    const reply = decode(p.reply);
    nspOf(p).on(p.event, (...args) => {
      const cb = args[args.length - 1];
      if (has && typeof cb === "function") cb(reply);
    });
    return true;
  },
  async client(p) {
    return startClient(p);
  },
  async clientEmit(p) {
    const socket = client(p);
    const args = decode(list(p.args));
    if (!p.ack) {
      socket.emit(p.event, ...args);
      return true;
    }
    return new Promise((resolve, reject) => {
      socket.timeout(p.timeoutMs === undefined ? 2000 : p.timeoutMs).emit(p.event, ...args, (err, ...resp) => {
        if (err) reject(err);
        else resolve(encode(resp));
      });
    });
  },
  async clientInfo(p) {
    const socket = client(p);
    return { cid: p.cid, connected: socket.connected, sid: socket.id || null, recovered: !!socket.recovered };
  },
  async clientClose(p) {
    client(p).disconnect();
    clients.delete(p.cid);
    return true;
  },
  async clientDrop(p) {
    // closes the transport under the socket, like a network drop: the client sees "forced close", the
    // server "transport close"; the client reconnects when reconnection is on
    client(p).io.engine.close();
    return true;
  },
  async emitter(p) {
    if (PROFILE !== "classic") throw new Error("the redis-emitter speaks the classic adapter's format only");
    if (!emitter) {
      const { Emitter } = require("@socket.io/redis-emitter");
      emitter = new Emitter(pub, { key: config.key || "socket.io" });
    }
    let op = emitter.of(p.nsp || "/");
    const action = p.action || "emit";
    if (action === "serverSideEmit") return op.serverSideEmit(p.event, ...decode(list(p.args)));
    if (list(p.rooms).length) op = op.to(list(p.rooms));
    if (list(p.except).length) op = op.except(list(p.except));
    if (p.volatile) op = op.volatile;
    switch (action) {
      case "emit":
        return op.emit(p.event, ...decode(list(p.args)));
      case "socketsJoin":
        return op.socketsJoin(list(p.join));
      case "socketsLeave":
        return op.socketsLeave(list(p.leave));
      case "disconnectSockets":
        return op.disconnectSockets(!!p.close);
      default:
        throw new Error(`unknown emitter action ${action}`);
    }
  },
  async redisCommand(p) {
    if (config.cluster) throw new Error("redisCommand is for a standalone Redis");
    return encode(await pub.sendCommand(p.args.map(String)));
  },
  async settle() {
    await settle();
    return true;
  },
  async exit() {
    await shutdown();
    return true;
  },
};

let closing = null;

function shutdown() {
  if (!closing) closing = doShutdown();
  return closing;
}

async function doShutdown() {
  for (const socket of clients.values()) socket.disconnect();
  clients.clear();
  await Promise.race([
    (async () => {
      if (io) await io.close();
      for (const c of [pub, sub]) if (c && c.isOpen) await c.quit().catch(() => {});
    })(),
    new Promise((resolve) => setTimeout(resolve, 2000)),
  ]);
}

async function run(cmd) {
  const t0 = Date.now();
  const handler = Object.prototype.hasOwnProperty.call(commands, cmd.cmd) ? commands[cmd.cmd] : null;
  let reply;
  try {
    if (!handler) throw new Error(`unknown command ${cmd.cmd}`);
    const result = await handler(cmd);
    await settle();
    reply = { id: cmd.id, ok: true, result: encode(result === undefined ? null : result) };
  } catch (err) {
    reply = { id: cmd.id, ok: false, error: String((err && err.message) || err) };
  }
  reply.ms = Date.now() - t0;
  out(reply);
  if (cmd.cmd === "exit") process.exit(0);
}

/* ---------------------------------------------------------------- start */

async function main() {
  pub = makeRedis();
  pub.on("error", onRedisError("pub"));
  sub = pub.duplicate();
  sub.on("error", onRedisError("sub"));
  trackSubscriptions(sub);
  await Promise.all([pub.connect(), sub.connect()]);

  let adapter;
  if (PROFILE === "classic") {
    const opts = {};
    if (config.key) opts.key = config.key;
    if (config.requestsTimeout) opts.requestsTimeout = config.requestsTimeout;
    if (config.publishOnSpecificResponseChannel) opts.publishOnSpecificResponseChannel = true;
    adapter = createAdapter(pub, sub, opts);
  } else if (PROFILE === "sharded") {
    const opts = {};
    if (config.channelPrefix) opts.channelPrefix = config.channelPrefix;
    if (config.subscriptionMode) opts.subscriptionMode = config.subscriptionMode;
    adapter = createShardedAdapter(pub, sub, opts);
  } else if (PROFILE === "streams") {
    // @socket.io/redis-streams-adapter 0.3.1: it duplicates `pub` for its readers and subscriber.
    const { createAdapter: createStreamsAdapter } = require("@socket.io/redis-streams-adapter");
    const opts = {};
    for (const k of ["streamName", "streamCount", "channelPrefix", "maxLen", "readCount", "blockTimeInMs",
      "sessionKeyPrefix", "onlyPlaintext", "useShardedPubSub"]) {
      if (config[k] !== undefined) opts[k] = config[k];
    }
    adapter = createStreamsAdapter(pub, opts);
  } else {
    throw new Error(`unknown profile ${PROFILE} (classic, sharded, streams; ioredis is not installed)`);
  }

  const opts = { adapter };
  if (config.csr) opts.connectionStateRecovery = config.csr === true ? {} : config.csr;
  if (config.pingInterval) opts.pingInterval = config.pingInterval;
  if (config.pingTimeout) opts.pingTimeout = config.pingTimeout;
  httpServer = http.createServer();
  io = new Server(httpServer, opts);
  const uids = {};
  for (const name of NSPS) {
    const nsp = io.of(name);
    setupNamespace(nsp);
    uids[name] = nsp.adapter.uid;
  }
  await settle();
  await new Promise((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(config.port || 0, "127.0.0.1", resolve);
  });
  const port = httpServer.address().port;
  out({ event: "ready", name: NAME, profile: PROFILE, port, pid: process.pid, uids, ms: Date.now() - started });

  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    if (!line.trim()) return;
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch (err) {
      out({ event: "bad-command", error: err.message, line });
      return;
    }
    run(cmd);
  });
  rl.on("close", () => {
    // stdin closed (the test process is gone or done): let in-flight replies out, then leave
    shutdown().then(() => setTimeout(() => process.exit(0), 50));
  });
}

process.on("uncaughtException", (err) => {
  out({ event: "fatal", error: String((err && err.stack) || err) });
  process.exit(70);
});
// A rejected promise nobody awaited (e.g. the adapter's PUBLISH while Redis restarts) is reported, not fatal.
process.on("unhandledRejection", (err) => {
  out({ event: "unhandled-rejection", error: String((err && err.message) || err) });
});

main().catch((err) => {
  out({ event: "fatal", error: String((err && err.stack) || err) });
  process.exit(71);
});

"use strict";
/*
 * Line-oriented JSON driver for the npm socket.io-client, used by tests/interop/node_driver.py.
 *
 * stdin:  one command per line  {"id": 1, "op": "connect" | "emit" | "disconnect" | "info", ...}
 * stdout: one JSON object per line, either a reply {"re": 1, "ok": true, "result": ...}
 *         or an event {"type": "connect" | "connect_error" | "disconnect" | "event" | "open" |
 *         "upgrade" | "manager_error", ...}.
 * Binary values travel as {"$bin": "<base64>"} in both directions.
 *
 * Modules resolve from the repository's node_modules (npm ci at the repository root).
 * The process exits when stdin closes, or after DRIVER_WATCHDOG_MS (default 60 s) in any case.
 */
const readline = require("readline");
const { Manager } = require("socket.io-client");

const WATCHDOG_MS = Number(process.env.DRIVER_WATCHDOG_MS || 60000);
setTimeout(() => {
  out({ type: "fatal", error: `watchdog expired after ${WATCHDOG_MS} ms` });
  process.exit(3);
}, WATCHDOG_MS).unref();

const managers = new Map();
const sockets = new Map();

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function encode(value) {
  if (Buffer.isBuffer(value)) return { $bin: value.toString("base64") };
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("base64") };
  if (ArrayBuffer.isView(value)) {
    return { $bin: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  }
  if (Array.isArray(value)) return value.map(encode);
  if (value !== null && typeof value === "object") {
    const obj = {};
    for (const [k, v] of Object.entries(value)) obj[k] = encode(v);
    return obj;
  }
  return value;
}

function decode(value) {
  if (Array.isArray(value)) return value.map(decode);
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "$bin") return Buffer.from(value.$bin, "base64");
    const obj = {};
    for (const [k, v] of Object.entries(value)) obj[k] = decode(v);
    return obj;
  }
  return value;
}

function getManager(p) {
  const key = p.manager || `__${p.client}`;
  let manager = managers.get(key);
  if (manager) return manager;
  const opts = { reconnection: false, timeout: 10000 };
  if (p.path) opts.path = p.path;
  if (p.transports) opts.transports = p.transports;
  if (p.upgrade === false) opts.upgrade = false;
  if (p.query) opts.query = p.query;
  if (p.extraHeaders) opts.extraHeaders = p.extraHeaders;
  if (p.parser === "msgpack") opts.parser = require("socket.io-msgpack-parser");
  manager = new Manager(p.url, opts);
  manager.on("open", () => {
    const engine = manager.engine;
    out({ type: "open", manager: key, eid: engine.id, transport: engine.transport.name });
    engine.on("upgrade", (transport) => {
      out({ type: "upgrade", manager: key, eid: engine.id, transport: transport.name });
    });
  });
  manager.on("error", (err) => {
    out({ type: "manager_error", manager: key, error: String((err && err.message) || err) });
  });
  managers.set(key, manager);
  return manager;
}

const ops = {
  connect(p) {
    if (sockets.has(p.client)) throw new Error(`client ${p.client} exists`);
    const manager = getManager(p);
    const nsp = p.nsp || "/";
    const socket = manager.socket(nsp, p.auth === undefined ? {} : { auth: decode(p.auth) });
    const base = { client: p.client, nsp };
    socket.on("connect", () => {
      const engine = manager.engine;
      out({ ...base, type: "connect", sid: socket.id, eid: engine.id, transport: engine.transport.name });
    });
    socket.on("connect_error", (err) => {
      out({ ...base, type: "connect_error", message: err.message, data: encode(err.data) });
    });
    socket.on("disconnect", (reason) => out({ ...base, type: "disconnect", reason }));
    socket.onAny((event, ...args) => {
      let ack = null;
      if (args.length && typeof args[args.length - 1] === "function") ack = args.pop();
      out({ ...base, type: "event", event, args: encode(args), ack: ack !== null });
      // Acknowledge by echoing the arguments back, so both directions carry the payload.
      if (ack) ack(...args);
    });
    sockets.set(p.client, socket);
    return null;
  },

  emit(p, reply) {
    const socket = sockets.get(p.client);
    const args = decode(p.args || []);
    if (!p.ack) {
      socket.emit(p.event, ...args);
      return null;
    }
    socket.timeout(p.timeout || 5000).emit(p.event, ...args, (err, ...response) => {
      if (err) reply(false, `ack error: ${err.message}`);
      else reply(true, encode(response));
    });
    return undefined; // reply comes later
  },

  disconnect(p) {
    sockets.get(p.client).disconnect();
    return null;
  },

  info(p) {
    const socket = sockets.get(p.client);
    const engine = socket.io.engine;
    return {
      connected: socket.connected,
      sid: socket.id,
      eid: engine ? engine.id : null,
      transport: engine && engine.transport ? engine.transport.name : null,
    };
  },
};

function shutdown(code) {
  for (const socket of sockets.values()) socket.disconnect();
  for (const manager of managers.values()) manager._close && manager._close();
  process.stdout.write("", () => process.exit(code));
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (e) {
    out({ type: "fatal", error: `bad command: ${line}` });
    return;
  }
  const reply = (ok, result) => out(ok ? { re: cmd.id, ok, result } : { re: cmd.id, ok, error: result });
  try {
    if (cmd.op === "exit") {
      reply(true, null);
      shutdown(0);
      return;
    }
    const op = ops[cmd.op];
    if (!op) throw new Error(`unknown op ${cmd.op}`);
    const result = op(cmd, reply);
    if (result !== undefined) reply(true, result);
  } catch (e) {
    reply(false, String((e && e.stack) || e));
  }
});
rl.on("close", () => shutdown(0));

"use strict";
/*
 * A Node socket.io 4.8 server with connectionStateRecovery (in-memory adapter) and/or npm
 * socket.io-client clients, for tests/recovery. Driven by tests/recovery/node_csr.py.
 *
 * Usage: node node_csr.js '{"server": true, "pingInterval": 1000, "pingTimeout": 1000}'
 * stdin: one JSON command per line {"id": 1, "cmd": "<name>", ...}; stdout: JSON lines, replies
 * {"id": 1, "ok": true, "result": …} or {"id": 1, "ok": false, "error": "…"}, and events {"event": …}.
 * Commands: emit {ev, args, to?, volatile?}; client {url, transports} -> {cid, sid};
 * drop {cid} (closes the engine under the socket, like a network drop); state {cid} ->
 * {sid, connected, recovered, got}; received {cid} -> the args of every "n" event, in order.
 * Exits when stdin closes, or after 60 s in any case.
 */
const http = require("http");
const readline = require("readline");
const { Server } = require("socket.io");
const { io: ioClient } = require("socket.io-client");

const config = JSON.parse(process.argv[2] || "{}");
setTimeout(() => process.exit(3), 60000).unref();
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

let io = null;
const clients = new Map();
let nextCid = 0;

const commands = {
  async emit(p) {
    let op = io;
    if (p.to) op = op.to(p.to);
    if (p.volatile) op = op.volatile;
    op.emit(p.ev, ...(p.args || []));
    return true;
  },
  async client(p) {
    const cid = `c${nextCid++}`;
    const socket = ioClient(p.url, {
      transports: p.transports || ["websocket"],
      reconnectionDelay: 50,
      reconnectionDelayMax: 100,
      randomizationFactor: 0,
    });
    const entry = { socket, got: [], connects: [] };
    clients.set(cid, entry);
    socket.on("n", (...args) => entry.got.push(args));
    socket.on("connect", () => entry.connects.push({ sid: socket.id, recovered: socket.recovered }));
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
    return { cid, sid: socket.id };
  },
  async drop(p) {
    clients.get(p.cid).socket.io.engine.close();
    return true;
  },
  async state(p) {
    const { socket, got, connects } = clients.get(p.cid);
    return { sid: socket.id || null, connected: socket.connected, recovered: !!socket.recovered, got: got.length, connects };
  },
  async received(p) {
    return clients.get(p.cid).got;
  },
};

async function main() {
  let port = null;
  if (config.server) {
    const httpServer = http.createServer();
    io = new Server(httpServer, {
      connectionStateRecovery: {},
      pingInterval: config.pingInterval || 25000,
      pingTimeout: config.pingTimeout || 20000,
    });
    io.on("connection", (socket) => {
      if (!socket.recovered) socket.join("r1");
      out({ event: "connection", sid: socket.id, recovered: socket.recovered, rooms: [...socket.rooms] });
    });
    await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
    port = httpServer.address().port;
  }
  out({ event: "ready", port });
  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", async (line) => {
    const cmd = JSON.parse(line);
    try {
      out({ id: cmd.id, ok: true, result: (await commands[cmd.cmd](cmd)) ?? null });
    } catch (err) {
      out({ id: cmd.id, ok: false, error: String((err && err.message) || err) });
    }
  });
  rl.on("close", () => process.exit(0));
}

main();

// Idle npm socket.io-client connections for measure_idle_cpu.py: opens `clients` WebSocket
// connections to `url` (a few at a time), optionally one admin socket on /admin, prints
// {"ready": n} once all are connected, then idles until stdin closes (or the process is killed).
// One JSON config argument: {url, clients, admin: {username, password} | null}.
"use strict";

const { io } = require("socket.io-client");

const cfg = JSON.parse(process.argv[2]);
const sockets = [];

function open(nsp, auth) {
  return new Promise((resolve, reject) => {
    const socket = io(cfg.url + nsp, {
      transports: ["websocket"],
      forceNew: true,
      reconnection: false,
      timeout: 20000,
      auth,
    });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => reject(err));
    sockets.push(socket);
  });
}

async function main() {
  const batch = 100;
  for (let i = 0; i < cfg.clients; i += batch) {
    const opening = [];
    for (let j = i; j < Math.min(i + batch, cfg.clients); j++) opening.push(open("/", {}));
    await Promise.all(opening);
  }
  if (cfg.admin) {
    const admin = await open("/admin", cfg.admin);
    let stats = 0;
    admin.on("server_stats", () => {
      stats += 1;
    });
    setInterval(() => process.stdout.write(JSON.stringify({ stats }) + "\n"), 5000).unref();
  }
  process.stdout.write(JSON.stringify({ ready: sockets.length }) + "\n");
}

process.stdin.on("end", () => {
  for (const socket of sockets) socket.disconnect();
  process.exit(0);
});
process.stdin.resume();
main().catch((err) => {
  process.stdout.write(JSON.stringify({ error: String(err && err.message) }) + "\n");
  process.exit(1);
});

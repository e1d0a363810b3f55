// A Node socket.io server on @socket.io/redis-adapter (classic) instrumented with
// @socket.io/admin-ui (auth: false, development mode, serverId "node"), for test_admin_mixed_cluster.py.
// Its "join" event puts the sender in a room and acks "joined". Prints "serving http://127.0.0.1:<port>"
// once listening; exits on SIGTERM (or after 120 s, whatever happens).
// One JSON config argument: {redis: "redis://127.0.0.1:<port>"}.
"use strict";

const http = require("http");
const { Server } = require("socket.io");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-adapter");
const { instrument } = require("@socket.io/admin-ui");

const config = JSON.parse(process.argv[2]);
setTimeout(() => process.exit(3), 120000).unref();

async function main() {
  const pub = createClient({ url: config.redis });
  const sub = pub.duplicate();
  pub.on("error", () => {});
  sub.on("error", () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter: createAdapter(pub, sub) });
  instrument(io, { auth: false, mode: "development", serverId: "node" });
  io.on("connection", (socket) => {
    socket.on("join", (room, ack) => {
      socket.join(room);
      if (typeof ack === "function") ack("joined");
    });
  });
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  process.stdout.write(`serving http://127.0.0.1:${httpServer.address().port}\n`);
  const stop = () => {
    io.close();
    Promise.allSettled([pub.quit(), sub.quit()]).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on("SIGTERM", stop);
}

main().catch((err) => {
  process.stderr.write(`node_admin_server failed: ${err && err.stack}\n`);
  process.exit(1);
});

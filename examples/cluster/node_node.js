"use strict";
/*
 * A Node socket.io 4.8 server of the same chat cluster as python_node.py: @socket.io/redis-adapter
 * on the same Redis, the same events (join, chat, who) and the same page.
 *
 *   PORT=8003 node examples/cluster/node_node.js     # http://127.0.0.1:8003
 *
 * Needs the npm packages socket.io, @socket.io/redis-adapter and redis (scripts/setup installs them
 * into the repository's node_modules; elsewhere: npm install socket.io @socket.io/redis-adapter redis).
 */
const fs = require("fs");
const http = require("http");
const path = require("path");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

const REDIS_URL = process.env.REDIS_URL || "redis://127.0.0.1:6380/0";
const PORT = Number(process.env.PORT || 8003);
const NAME = process.env.NAME || `node:${PORT}`;
const INDEX = fs.readFileSync(path.join(__dirname, "index.html"));

async function main() {
  const pub = createClient({ url: REDIS_URL });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);

  const httpServer = http.createServer((req, res) => {
    res.writeHead(req.url === "/" ? 200 : 404, { "content-type": "text/html" });
    res.end(req.url === "/" ? INDEX : "not found");
  });
  // The one option that makes this server part of the cluster (serveClient: the page's bundle).
  const io = new Server(httpServer, { adapter: createAdapter(pub, sub) });

  io.on("connection", (socket) => {
    socket.emit("welcome", { server: NAME });
    socket.on("join", (room, ack) => {
      socket.join(String(room));
      if (typeof ack === "function") ack({ server: NAME, room: String(room) });
    });
    socket.on("chat", (message) => {
      if (message === null || typeof message !== "object") return;
      const target = message.room ? io.to(String(message.room)) : io;
      target.emit("chat", { server: NAME, text: String(message.text ?? "") });
    });
    socket.on("who", async (ack) => {
      if (typeof ack !== "function") return;
      try {
        const sockets = await io.fetchSockets(); // rejects if a server does not answer in time
        const servers = await io.of("/").adapter.serverCount();
        ack({ servers, sockets: sockets.map((s) => s.id).sort(), missing: 0 });
      } catch (err) {
        ack({ error: String(err.message || err) });
      }
    });
  });

  httpServer.listen(PORT, "127.0.0.1", () => {
    console.log(`listening on http://127.0.0.1:${httpServer.address().port}`);
  });

  const stop = () => {
    io.close(() => Promise.all([pub.quit(), sub.quit()]).finally(() => process.exit(0)));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

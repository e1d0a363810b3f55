"use strict";
/*
 * The same as emit_from_worker.py, from Node: the official @socket.io/redis-emitter reaches the
 * clients of aiosio servers too (they read its messages like a Node server does).
 *
 *   node examples/cluster/emit_from_node.js "deploy finished" [room]
 */
const { Emitter } = require("@socket.io/redis-emitter");
const { createClient } = require("redis");

const REDIS_URL = process.env.REDIS_URL || "redis://127.0.0.1:6380/0";
const [text = "hello from a Node worker", room] = process.argv.slice(2);

async function main() {
  const client = createClient({ url: REDIS_URL });
  await client.connect();
  const emitter = new Emitter(client);
  (room ? emitter.to(room) : emitter).emit("chat", { server: "node-worker", text });
  await client.quit(); // sends what is queued first
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

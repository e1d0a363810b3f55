// A Node socket.io server doing what tests/examples/apps/greeter.py and pingpong.py do, for the
// client apps: greet each client with (7, 8, {greet: "you"}), answer each ping_from_client with
// pong_from_server. Prints its URL once listening, then one JSON line per connect and disconnect.
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const httpServer = http.createServer();
const io = new Server(httpServer, { serveClient: false });

io.on("connection", (socket) => {
  console.log(JSON.stringify({ event: "connect", sid: socket.id, auth: socket.handshake.auth }));
  socket.emit("greet", 7, 8, { greet: "you" });
  socket.on("ping_from_client", () => socket.emit("pong_from_server"));
  socket.on("disconnect", (reason) => {
    console.log(JSON.stringify({ event: "disconnect", sid: socket.id, reason }));
  });
});

httpServer.listen(0, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${httpServer.address().port}`);
});
process.on("SIGTERM", () => {
  io.close();
  process.exit(0);
});
setTimeout(() => process.exit(4), 120000).unref(); // never outlive a test run

// Reference peer for aiosio's client tests: the npm socket.io 4.8.x server.
//
// Usage: node server.js [--port N] [--msgpack] [--ping-interval MS] [--ping-timeout MS] [--max-payload BYTES]
// Prints one JSON line {"port": N} on stdout once it listens (port 0 picks a free one).
//
// Namespaces "/" and "/chat" behave alike:
//   auth.token must be "secret", otherwise the connection is refused with
//   err.message "not authorized" and err.data {reason: "bad token"};
//   "echo"          acks with its arguments, or emits them back as "echo" without an ack;
//   "emit_to_me"    (event, ...args) emits event(...args) to the sender;
//   "ask_client"    (payload) asks the client "question"(payload) with an ack, acks with the answer;
//   "disconnect_me" disconnects the socket from its namespace (server disconnect);
//   "close_engine"  closes the whole Engine.IO connection (transport close: the client reconnects);
//   "store" (x)     appends x to a list kept by this process; "get_stored" acks with that list;
//   "whoami"        acks with {nsp, auth, transport, query}.
//   "join_room" (room) joins the room and acks true; "to_room" (room, event, ...args) emits
//                   event(...args) to everyone in the room.
// With auth.greet set, the connection handler emits greeting(greet), greeting(greet, <01 02>) and
// greeting_ack(greet) whose ack stores ["ack", greet, ...answer].

"use strict";

const http = require("http");
const { Server } = require("socket.io");

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const port = Number(option("--port", "0"));
const serverOptions = {
  pingInterval: Number(option("--ping-interval", "25000")),
  pingTimeout: Number(option("--ping-timeout", "20000")),
  maxHttpBufferSize: Number(option("--max-payload", "10000000")),
};
if (process.argv.includes("--msgpack")) {
  serverOptions.parser = require("socket.io-msgpack-parser");
}

const httpServer = http.createServer();
const io = new Server(httpServer, serverOptions);
const stored = [];

function setup(nsp) {
  nsp.use((socket, next) => {
    const auth = socket.handshake.auth || {};
    if (auth.token !== "secret") {
      const err = new Error("not authorized");
      err.data = { reason: "bad token" };
      return next(err);
    }
    next();
  });

  nsp.on("connection", (socket) => {
    const greet = (socket.handshake.auth || {}).greet;
    if (greet !== undefined) {
      socket.emit("greeting", greet);
      socket.emit("greeting", greet, Buffer.from([1, 2]));
      socket.emit("greeting_ack", greet, (...answer) => stored.push(["ack", greet, ...answer]));
    }
    socket.on("echo", (...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      if (ack) ack(...args);
      else socket.emit("echo", ...args);
    });
    socket.on("emit_to_me", (event, ...args) => socket.emit(event, ...args));
    socket.on("ask_client", async (payload, ack) => {
      try {
        const answer = await socket.timeout(5000).emitWithAck("question", payload);
        ack(answer);
      } catch (err) {
        ack({ error: String(err) });
      }
    });
    socket.on("disconnect_me", () => socket.disconnect());
    socket.on("close_engine", () => socket.conn.close());
    socket.on("store", (x) => stored.push(x));
    socket.on("join_room", (room, ack) => {
      socket.join(room);
      if (typeof ack === "function") ack(true);
    });
    socket.on("to_room", (room, event, ...args) => nsp.to(room).emit(event, ...args));
    socket.on("get_stored", (ack) => ack(stored));
    socket.on("whoami", (ack) =>
      ack({
        nsp: nsp.name,
        auth: socket.handshake.auth,
        transport: socket.conn.transport.name,
        query: socket.handshake.query,
      }),
    );
  });
}

setup(io.of("/"));
setup(io.of("/chat"));

httpServer.listen(port, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: httpServer.address().port }) + "\n");
});

// The test harness stops this process with a signal; exit at once, without a graceful close, so
// clients see the connection drop as they would when a server dies.
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));

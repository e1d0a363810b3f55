// A Node socket.io server for `aiosio client` interop tests; prints its URL once listening.
const http = require("http");
const { Server } = require("socket.io");

const httpServer = http.createServer();
const io = new Server(httpServer, { serveClient: false });

io.use((socket, next) => {
  const auth = socket.handshake.auth || {};
  if (auth.token === "bad") next(new Error("bad token"));
  else next();
});

io.on("connection", (socket) => {
  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args);
  });
  socket.on("burst", (count, ack) => {
    for (let i = 0; i < count; i++) socket.emit("tick", { i });
    if (ack) ack("done");
  });
  socket.on("silent", () => {});
});

httpServer.listen(0, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${httpServer.address().port}`);
});
process.on("SIGTERM", () => { io.close(); process.exit(0); });

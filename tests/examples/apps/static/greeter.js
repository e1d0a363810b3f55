// The greeter page: connect without auth and log the three greeting arguments.
"use strict";
(() => {
  const socket = io();
  socket.on("connect", () => console.log("up", socket.id));
  socket.on("disconnect", () => console.log("down", socket.id));
  socket.on("greet", (a, b, c) => console.log(a, b, c));
})();

// The ping-pong page: on connect send a ping; on each pong show the round trip, ping again 100 ms
// later, and show the Engine.IO transport in use.
"use strict";
(() => {
  const socket = io();
  const show = (id, text) => { document.getElementById(id).textContent = text; };
  let sentAt;
  const ping = () => {
    sentAt = Date.now();
    socket.emit("ping_from_client");
    show("transport", socket.io.engine.transport.name);
  };
  socket.on("connect", ping);
  socket.on("pong_from_server", () => {
    show("rtt", `${Date.now() - sentAt} ms`);
    setTimeout(ping, 100);
  });
  socket.on("disconnect", () => show("transport", "(disconnected)"));
})();

// The kitchen page's behaviour; tests/examples/test_example_pages.py performs the same steps with
// the npm socket.io-client.
"use strict";
(() => {
  const socket = io();
  const log = (line) => { document.getElementById("log").textContent += line + "\n"; };
  const value = (id) => document.getElementById(id).value;
  socket.on("connect", () => socket.emit("shout_back", { text: "page connected" }));
  socket.on("disconnect", () => log("disconnected"));
  socket.on("feed", (msg) => log("got: " + msg.text));
  const forms = {
    shout_back: () => ({ text: value("shout_back_text") }),
    shout_all: () => ({ text: value("shout_all_text") }),
    enter: () => ({ room: value("enter_room") }),
    depart: () => ({ room: value("depart_room") }),
    shout_room: () => ({ room: value("shout_room_room"), text: value("shout_room_text") }),
    dissolve: () => ({ room: value("dissolve_room") }),
  };
  for (const [id, payload] of Object.entries(forms)) {
    document.getElementById(id).addEventListener("submit", (e) => {
      e.preventDefault();
      socket.emit(id, payload());
    });
  }
  document.getElementById("hang_up").addEventListener("submit", (e) => {
    e.preventDefault();
    socket.emit("hang_up");
  });
})();

// The aiosio demo page: todos kept in sync over Socket.IO, a chat with rooms and presence, and
// live prices pushed by the server to the "prices" room.
// Plain browser JavaScript, no build step. User text is only ever written with textContent,
// never innerHTML, so names and messages cannot inject markup.
(() => {
  "use strict";

  const $ = (selector) => document.querySelector(selector);
  let socket = null; // the Socket.IO connection, once the client bundle has loaded
  const statusEl = $("#status");
  const bannerEl = $("#banner");

  function setStatus(state, text) {
    statusEl.dataset.state = state;
    statusEl.textContent = text;
  }

  // Connection-state recovery: after a lost connection the server may restore the session (same
  // id, rooms and chat name) and replay what was sent meanwhile (socket.recovered); the page says
  // which happened, and how many events arrived while it was away.
  const recoveryEl = $("#recovery");
  let lostAt = null; // when the connection was lost, until the next connect
  let missed = 0; // events replayed since then

  function showRecovery(recovered) {
    const at = new Date().toLocaleTimeString();
    recoveryEl.dataset.state = recovered ? "recovered" : "fresh";
    recoveryEl.textContent = recovered
      ? `reconnected at ${at}: recovered, ${missed} missed event${missed === 1 ? "" : "s"} replayed`
      : `reconnected at ${at}: not recovered (a new session), state reloaded`;
    recoveryEl.hidden = false;
  }

  function showError(el, text) {
    el.textContent = text || "";
    el.hidden = !text;
  }

  function storageGet(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }

  function storageSet(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* private mode: not kept */ }
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // ---------------------------------------------------------------------------------- todos

  const todos = new Map(); // id (a string, as in the tutorial) -> {id, title, completed}
  const todoList = $("#todo-list");
  const todoError = $("#todo-error");

  function renderTodos() {
    const items = [...todos.values()].sort((a, b) => Number(a.id) - Number(b.id));
    const nodes = items.map((todo) => {
      const li = el("li", todo.completed ? "todo done" : "todo");
      li.dataset.id = String(todo.id);
      const label = el("label");
      const box = el("input");
      box.type = "checkbox";
      box.checked = todo.completed;
      box.setAttribute("aria-label", "Completed");
      box.addEventListener("change", () => updateTodo(todo.id, { completed: box.checked }));
      label.append(box, el("span", "name", todo.title));
      const del = el("button", "delete", "×");
      del.type = "button";
      del.title = "Delete";
      del.setAttribute("aria-label", `Delete “${todo.title}”`);
      del.addEventListener("click", () => deleteTodo(todo.id));
      li.append(label, del);
      return li;
    });
    todoList.replaceChildren(...nodes);
    const left = items.filter((t) => !t.completed).length;
    $("#todo-count").textContent = `${left} of ${items.length} left`;
  }

  function upsertTodo(todo) {
    todos.set(todo.id, todo);
    renderTodos();
  }

  function replaceTodos(list) {
    todos.clear();
    for (const todo of list) todos.set(todo.id, todo);
    renderTodos();
  }

  // A JSON call to the todo API; throws an Error carrying the server's {"error": ...} message.
  async function api(method, path, body) {
    const init = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    if (res.status === 204) return null;
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new Error((data && data.error) || `${res.status} ${res.statusText}`);
    return data;
  }

  async function addTodo(title) {
    try {
      upsertTodo(await api("POST", "/todos", { title }));
      showError(todoError, "");
      return true;
    } catch (err) {
      showError(todoError, err.message);
      return false;
    }
  }

  async function updateTodo(id, changes) {
    try {
      upsertTodo(await api("PATCH", `/todos/${id}`, changes));
      showError(todoError, "");
    } catch (err) {
      showError(todoError, err.message);
      renderTodos(); // undo the checkbox the user just flipped
    }
  }

  async function deleteTodo(id) {
    try {
      await api("DELETE", `/todos/${id}`);
      showError(todoError, "");
    } catch (err) {
      showError(todoError, err.message);
    }
    // Gone either way: deleted now, or already deleted elsewhere (404).
    todos.delete(id);
    renderTodos();
  }

  $("#todo-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("#todo-name");
    const title = input.value.trim();
    if (title && (await addTodo(title))) input.value = "";
  });

  // The list is fetched over HTTP straight away, so it shows even while the socket connects.
  api("GET", "/todos").then(replaceTodos, (err) => showError(todoError, err.message));

  // ----------------------------------------------------------------------------------- chat

  const nameInput = $("#chat-name");
  const roomSelect = $("#chat-room");
  const messagesEl = $("#messages");
  const onlineEl = $("#online");
  const chatError = $("#chat-error");
  let you = null; // our public id, to mark our own messages
  let joinedRoom = null;
  const shown = new Set(); // ids of the messages on screen, so history + live never duplicate

  nameInput.value = storageGet("aiosio-demo-name") ||
    `guest-${Math.floor(Math.random() * 0x10000).toString(16).padStart(4, "0")}`;
  const savedRoom = storageGet("aiosio-demo-room");
  if (savedRoom) roomSelect.value = savedRoom;

  function appendMessage(msg) {
    if (shown.has(msg.id)) return;
    shown.add(msg.id);
    const li = el("li", msg.from === you ? "message mine" : "message");
    const time = new Date(msg.ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    const meta = el("span", "meta");
    meta.append(el("strong", "author", msg.name), el("time", "", time));
    li.append(meta, el("span", "text", msg.text));
    messagesEl.append(li);
    messagesEl.scrollTop = messagesEl.scrollHeight;
  }

  function renderOnline(users) {
    onlineEl.replaceChildren(...users.map((u) => el("li", u.id === you ? "me" : "", u.name)));
  }

  function setRooms(rooms) {
    const current = roomSelect.value;
    roomSelect.replaceChildren(...rooms.map((room) => {
      const option = el("option", "", room);
      option.value = room;
      return option;
    }));
    roomSelect.value = rooms.includes(current) ? current : rooms[0];
  }

  async function join() {
    const name = nameInput.value.trim();
    const room = roomSelect.value;
    if (!name || !socket || !socket.connected) return;
    let ack;
    try {
      ack = await socket.timeout(5000).emitWithAck("join", { name, room });
    } catch (err) {
      showError(chatError, "the server did not answer; retrying on reconnect");
      return;
    }
    if (!ack.ok) {
      showError(chatError, ack.error);
      return;
    }
    showError(chatError, "");
    storageSet("aiosio-demo-name", ack.name);
    storageSet("aiosio-demo-room", ack.room);
    if (joinedRoom !== ack.room) {
      messagesEl.replaceChildren();
      shown.clear();
    }
    joinedRoom = ack.room;
    $("#chat").dataset.room = ack.room;
    $("#online-room").textContent = ack.room;
    for (const msg of ack.history) appendMessage(msg);
    renderOnline(ack.users);
  }

  $("#join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    join();
  });
  nameInput.addEventListener("change", join);
  roomSelect.addEventListener("change", join);

  $("#chat-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("#chat-text");
    const text = input.value.trim();
    if (!text || !socket) return;
    if (!socket.connected) {
      showError(chatError, "not connected; try again in a moment");
      return;
    }
    try {
      const ack = await socket.timeout(5000).emitWithAck("message", { text });
      if (!ack.ok) {
        showError(chatError, ack.error);
        return;
      }
      showError(chatError, "");
      input.value = "";
    } catch (err) {
      showError(chatError, "the server did not answer");
    }
  });

  // --------------------------------------------------------------------------------- prices

  const pricesPane = $("#prices");
  const priceRows = $("#price-rows");
  const pricesToggle = $("#prices-toggle");
  const pricesState = $("#prices-state");
  const quotes = new Map(); // symbol -> {open, price, row, priceEl, changeEl}
  let wantPrices = storageGet("aiosio-demo-prices") !== "off"; // in the room unless the user left
  let watching = false;
  let pricesCall = 0; // the latest join/leave request: an older ack never overrides it

  $("#prices-cli").textContent = `aiosio client ${window.location.origin} --emit join_prices --listen`;

  function renderQuote(quote, price) {
    if (price > quote.price) quote.row.dataset.tick = "up";
    else if (price < quote.price) quote.row.dataset.tick = "down";
    quote.price = price;
    quote.priceEl.textContent = price.toFixed(2);
    const change = ((price - quote.open) / quote.open) * 100;
    quote.changeEl.textContent = `${change >= 0 ? "+" : "−"}${Math.abs(change).toFixed(2)}%`;
    quote.row.dataset.trend = change > 0 ? "up" : change < 0 ? "down" : "flat";
  }

  function setPriceTable(snapshot) {
    quotes.clear();
    const rows = snapshot.symbols.map((symbol) => {
      const row = el("tr");
      row.dataset.symbol = symbol;
      const priceEl = el("td", "price");
      const changeEl = el("td", "change");
      row.append(el("th", "symbol", symbol), priceEl, changeEl);
      const quote = { open: snapshot.open[symbol], price: snapshot.prices[symbol], row, priceEl, changeEl };
      quotes.set(symbol, quote);
      renderQuote(quote, quote.price);
      return row;
    });
    priceRows.replaceChildren(...rows);
  }

  function setWatching(on, text) {
    watching = on;
    pricesPane.dataset.watching = on ? "yes" : "no";
    pricesToggle.textContent = wantPrices ? "Leave" : "Join";
    pricesToggle.setAttribute("aria-pressed", String(wantPrices));
    pricesState.textContent = text;
  }

  function showStats(stats) {
    $("#stat-clients").textContent = stats ? String(stats.clients) : "–";
    $("#stat-watchers").textContent = stats ? String(stats.watchers) : "–";
    $("#stat-ticks").textContent = stats ? stats.ticks_per_sec.toFixed(1) : "–";
    $("#stat-msgs").textContent = stats ? stats.msgs_per_sec.toFixed(1) : "–";
  }

  // Join or leave the "prices" room, as the user last asked.
  async function syncPrices() {
    if (!socket || !socket.connected) return;
    const call = ++pricesCall;
    let ack;
    try {
      ack = await socket.timeout(5000).emitWithAck(wantPrices ? "join_prices" : "leave_prices");
    } catch (err) {
      if (call === pricesCall) setWatching(false, "the server did not answer; retrying on reconnect");
      return;
    }
    if (call !== pricesCall) return;
    if (!ack.ok) {
      setWatching(false, ack.error);
    } else if (wantPrices) {
      setPriceTable(ack);
      setWatching(true, `live: in the “${ack.room}” room, ${Math.round(1 / ack.interval)} ticks per second`);
    } else {
      setWatching(false, `paused: left the “${ack.room}” room, so the server sends this page no ticks`);
    }
  }

  pricesToggle.addEventListener("click", () => {
    wantPrices = !wantPrices;
    storageSet("aiosio-demo-prices", wantPrices ? "on" : "off");
    syncPrices();
  });
  setWatching(false, "connecting…");

  // --------------------------------------------------------------------------------- socket

  if (typeof window.io !== "function") {
    setStatus("error", "no Socket.IO client");
    bannerEl.textContent = "The Socket.IO client (/socket.io/socket.io.min.js) did not load, so this " +
      "page cannot connect: no live updates, chat or prices. The server's log says how to fix it " +
      "(in a checkout: npm ci, then restart aiosio serve). Todos still work over plain HTTP.";
    bannerEl.hidden = false;
    setWatching(false, "unavailable: the Socket.IO client did not load");
    pricesToggle.disabled = true;
    return;
  }

  // Reconnection is on by default; a short maximum delay brings the page back quickly after a
  // server restart.
  socket = window.io({ reconnectionDelay: 500, reconnectionDelayMax: 3000 });

  socket.on("connect", async () => {
    setStatus("connected", "connected");
    if (lostAt !== null) showRecovery(socket.recovered);
    lostAt = null;
    missed = 0;
    if (socket.recovered) {
      // Same session: the server kept our rooms and name, and replayed what we missed (already
      // shown). Only the prices room is joined again (the pane's state is per connection).
      syncPrices();
      return;
    }
    joinedRoom = null; // a new session: join() below starts the room's view afresh
    try {
      // Resynchronise on every (re)connect: changes made while we were away are in the snapshot.
      const state = await socket.timeout(5000).emitWithAck("sync");
      you = state.you;
      setRooms(state.rooms);
      replaceTodos(state.todos);
    } catch (err) {
      showError(todoError, "could not load the list from the server");
    }
    join();
    syncPrices();
  });

  socket.on("disconnect", (reason) => {
    setStatus("disconnected", "disconnected, reconnecting…");
    lostAt = Date.now();
    missed = 0;
    // joinedRoom stays: replayed messages of the room arrive before "connect" on a recovery (a
    // connection that is not recovered joins again, which resets it).
    pricesCall++; // an ack still on its way belongs to the old connection
    setWatching(false, "disconnected: rejoins the room on reconnect");
    showStats(null);
    // After a server-side disconnect (the server shutting down or restarting) socket.io-client
    // does not reconnect by itself; from socket.connect() on, its retry and backoff take over.
    if (reason === "io server disconnect") setTimeout(() => socket.connect(), 500);
  });
  socket.io.on("reconnect_attempt", (attempt) => {
    setStatus("connecting", `reconnecting (attempt ${attempt})…`);
  });
  socket.on("connect_error", () => {
    if (!socket.active) setStatus("disconnected", "connection refused");
  });

  const counted = (handler) => (...args) => {
    if (lostAt !== null) missed++;
    handler(...args);
  };
  socket.on("todo_added", counted(upsertTodo));
  socket.on("todo_updated", counted(upsertTodo));
  socket.on("todo_deleted", ({ id }) => {
    if (lostAt !== null) missed++;
    todos.delete(id);
    renderTodos();
  });
  socket.on("message", (msg) => {
    if (lostAt !== null) missed++; // replayed (a recovery delivers them before "connect")
    if (msg.room === joinedRoom) appendMessage(msg);
  });
  socket.on("presence", ({ room, users }) => {
    if (room === joinedRoom) renderOnline(users);
  });
  socket.on("tick", ({ seq, prices }) => {
    if (!watching) return;
    for (const [symbol, price] of Object.entries(prices)) {
      const quote = quotes.get(symbol);
      if (quote) renderQuote(quote, price);
    }
    pricesPane.dataset.seq = String(seq);
  });
  socket.on("stats", showStats);
})();

// Socket.IO 4.8 (npm `socket.io`) benchmark server with the same events as sio_server.py.
// Run: node benchmarks/servers/node_server.js --port N [--redis URL [--redis-mode classic|sharded]]
//
// With --redis (the cluster scenarios) the server is a node of a Redis cluster the way the
// redis-adapter README sets one up: node-redis 4 pub and sub clients and `createAdapter` (classic,
// Redis PUBLISH/PSUBSCRIBE) or `createShardedAdapter` (Redis 7 SPUBLISH/SSUBSCRIBE), defaults kept.
'use strict';

const http = require('node:http');
const path = require('node:path');
const { parseArgs } = require('node:util');

// The npm peers live in the repository root's node_modules, whatever the working directory.
const modules = path.join(__dirname, '..', '..', 'node_modules');

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    redis: { type: 'string' },
    'redis-mode': { type: 'string', default: 'classic' },
  },
});
const port = Number(values.port);
const { Server } = require(path.join(modules, 'socket.io'));

// Same settings as the Python servers (see sio_server.py): pings 5 minutes apart, a 100 MB
// payload limit, no compression of either transport, open CORS, no client bundle.
const io = new Server({
  pingInterval: 300_000,
  pingTimeout: 300_000,
  maxHttpBufferSize: 1e8,
  httpCompression: false,
  perMessageDeflate: false,
  serveClient: false,
  cors: { origin: '*' },
});

io.on('connection', (socket) => {
  // Acknowledge with the payload unchanged.
  socket.on('echo', (data, ack) => {
    if (typeof ack === 'function') ack(data);
  });
  // Send the payload as `msg` to every connected socket, the sender included.
  socket.on('bcast', (data) => {
    io.emit('msg', data);
  });
  // Put the socket in the room; the ack tells the client it is in.
  socket.on('join', (room, ack) => {
    socket.join(room);
    if (typeof ack === 'function') ack(true);
  });
  // Send the payload as `msg` to every socket in the room.
  socket.on('to_room', (room, data) => {
    io.to(room).emit('msg', data);
  });
});

/** Connects to Redis and installs the adapter of `mode` on `io`. */
async function useRedis(url, mode) {
  const { createClient } = require(path.join(modules, 'redis'));
  const { createAdapter, createShardedAdapter } = require(
    path.join(modules, '@socket.io', 'redis-adapter'),
  );
  const pubClient = createClient({ url });
  const subClient = pubClient.duplicate();
  await Promise.all([pubClient.connect(), subClient.connect()]);
  if (mode === 'classic') io.adapter(createAdapter(pubClient, subClient));
  else if (mode === 'sharded') io.adapter(createShardedAdapter(pubClient, subClient));
  else throw new Error(`unknown --redis-mode ${mode}`);
}

async function main() {
  if (values.redis) await useRedis(values.redis, values['redis-mode']);
  const server = http.createServer();
  io.attach(server);
  // A deep backlog so that the bounded-concurrency connection ramp never sees refused SYNs.
  server.listen({ port, host: '127.0.0.1', backlog: 4096 });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

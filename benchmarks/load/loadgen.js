// Load generator for the Socket.IO benchmarks: runs one scenario against one server and prints a
// single JSON object on stdout. Normally started by benchmarks/run.py, pinned to its own core.
//
//   node benchmarks/load/loadgen.js --scenario echo --port 8000 [--server-pid PID] ...
'use strict';

const { parseArgs } = require('node:util');
const scenarios = require('./scenarios');

const OPTIONS = {
  scenario: { type: 'string' },
  port: { type: 'string' },
  // A second server (cluster scenarios): clients alternate between the two ports, client 0 (the
  // sender) on --port.
  port2: { type: 'string', default: '0' },
  // For /proc CPU and RSS readings; comma-separated for two servers (CPU summed, RSS of the first).
  'server-pid': { type: 'string', default: '0' },
  'redis-pid': { type: 'string', default: '0' }, // the redis-server of the cluster scenarios
  // 1: before measuring, broadcast until one reaches every client (the servers' Redis
  // subscriptions are then in place).
  probe: { type: 'string', default: '0' },
  'clock-ticks': { type: 'string', default: '100' }, // os.sysconf('SC_CLK_TCK') of the host
  'server-core': { type: 'string', default: '-1' }, // the core the server is pinned to
  clients: { type: 'string', default: '50' },
  rooms: { type: 'string', default: '100' },
  window: { type: 'string', default: '1' }, // outstanding broadcasts (fanout, rooms)
  concurrency: { type: 'string', default: '100' }, // handshakes (and joins) in flight
  warmup: { type: 'string', default: '1' }, // seconds before the measurement window
  duration: { type: 'string', default: '5' }, // seconds of measurement window
  settle: { type: 'string', default: '1' }, // seconds between last connect and RSS reading
  rss: { type: 'string', default: '0' }, // 1: fanout also reads the server's RSS per connection
};

async function main() {
  const { values } = parseArgs({ options: OPTIONS });
  const run = scenarios[values.scenario];
  if (!run) throw new Error(`unknown scenario ${values.scenario}`);
  const opts = {
    port: Number(values.port),
    port2: Number(values.port2),
    serverPid: Number(values['server-pid'].split(',')[0]),
    serverPids: values['server-pid'].split(',').map(Number),
    redisPid: Number(values['redis-pid']),
    probe: values.probe === '1',
    clockTicks: Number(values['clock-ticks']),
    serverCore: Number(values['server-core']),
    clients: Number(values.clients),
    rooms: Number(values.rooms),
    window: Number(values.window),
    concurrency: Number(values.concurrency),
    warmup: Number(values.warmup),
    duration: Number(values.duration),
    settle: Number(values.settle),
    rss: values.rss === '1',
  };
  const result = await run(opts);
  return { ok: true, scenario: values.scenario, ...result };
}

main()
  .catch((err) => ({ ok: false, error: String(err && err.stack ? err.stack : err) }))
  .then((result) => {
    // Exit at once: thousands of open sockets would otherwise keep the process alive.
    process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(result.ok ? 0 : 1));
  });

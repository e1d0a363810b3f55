// Measurements: latency percentiles, the generator's own CPU use, and the server process's CPU
// time and RSS read from /proc (the orchestrator passes the server's pid and the clock tick).
'use strict';

const fs = require('node:fs');

/** Growable Float64Array of latency samples in milliseconds. */
class Samples {
  constructor() {
    this.data = new Float64Array(1 << 16);
    this.length = 0;
  }

  /** Appends one sample, doubling the storage when full. */
  push(value) {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }

  /** { p50, p99, max } in ms, by nearest rank; nulls when there are no samples. */
  summary() {
    if (this.length === 0) return { p50: null, p99: null, max: null };
    const sorted = this.data.slice(0, this.length).sort();
    const rank = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
    return { p50: round(rank(0.5)), p99: round(rank(0.99)), max: round(sorted[sorted.length - 1]) };
  }
}

/** `x` rounded to `digits` decimals, for compact JSON. */
function round(x, digits = 3) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** The server's resident set size in KiB (VmRSS of /proc/<pid>/status), or null. */
function serverRssKiB(pid) {
  if (!pid) return null;
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The server's user+system CPU seconds so far (/proc/<pid>/stat), or null. */
function serverCpuSeconds(pid, clockTicks) {
  if (!pid) return null;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return null;
  }
}

/** [busy, total] jiffies of CPU `core` from /proc/stat, or null. */
function coreTimes(core) {
  if (core === null || core === undefined || core < 0) return null;
  try {
    const stat = fs.readFileSync('/proc/stat', 'latin1');
    const line = new RegExp(`^cpu${core} (.*)$`, 'm').exec(stat);
    if (!line) return null;
    // user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
    const t = line[1].trim().split(/\s+/).slice(0, 8).map(Number);
    const total = t.reduce((a, b) => a + b, 0);
    return [total - t[3] - t[4], total];
  } catch {
    return null;
  }
}

/** The summed CPU seconds of every pid in `pids` (see serverCpuSeconds), or null. */
function cpuSecondsOf(pids, clockTicks) {
  let total = 0;
  for (const pid of pids) {
    const s = serverCpuSeconds(pid, clockTicks);
    if (s === null) return null;
    total += s;
  }
  return pids.length ? total : null;
}

/**
 * Measures CPU use over a window, for the generator (process.cpuUsage) and the server (/proc),
 * as a fraction of one core: ~1.0 means that process was saturated. `serverPid` may be an array
 * (the cluster scenarios' two servers, which share one core): their CPU use is summed. With
 * `redisPid`, the redis-server's share of a core is reported too (`redis_cpu`).
 */
class CpuWindow {
  constructor(serverPid, clockTicks, serverCore, redisPid = 0) {
    this.serverPids = (Array.isArray(serverPid) ? serverPid : [serverPid]).filter(Boolean);
    this.clockTicks = clockTicks;
    this.serverCore = serverCore;
    this.redisPid = redisPid;
    this.start();
  }

  start() {
    this.t0 = performance.now();
    this.gen0 = process.cpuUsage();
    this.srv0 = cpuSecondsOf(this.serverPids, this.clockTicks);
    this.redis0 = this.redisPid ? serverCpuSeconds(this.redisPid, this.clockTicks) : null;
    this.core0 = coreTimes(this.serverCore);
  }

  /** CPU use since start(), as fractions of one core (gen_sys: the kernel part of gen_cpu). */
  stop() {
    const seconds = (performance.now() - this.t0) / 1000;
    const gen = process.cpuUsage(this.gen0);
    const srv1 = cpuSecondsOf(this.serverPids, this.clockTicks);
    const core1 = coreTimes(this.serverCore);
    const redis1 = this.redisPid ? serverCpuSeconds(this.redisPid, this.clockTicks) : null;
    const redis =
      this.redis0 === null || redis1 === null
        ? {}
        : { redis_cpu: round((redis1 - this.redis0) / seconds, 2) };
    return {
      ...redis,
      gen_cpu: round((gen.user + gen.system) / 1e6 / seconds, 2),
      gen_sys: round(gen.system / 1e6 / seconds, 2),
      server_cpu:
        this.srv0 === null || srv1 === null ? null : round((srv1 - this.srv0) / seconds, 2),
      // Busy fraction of the server's whole core: well above server_cpu means other processes
      // (or interrupt work) competed with the server for its core.
      server_core_busy:
        this.core0 === null || core1 === null
          ? null
          : round((core1[0] - this.core0[0]) / Math.max(1, core1[1] - this.core0[1]), 2),
    };
  }
}

module.exports = { Samples, CpuWindow, serverRssKiB, round };

// Engine.IO v4 / Socket.IO v5 over the HTTP long-polling transport.
//
// Each client keeps exactly one GET outstanding (the long poll that carries server packets) and
// at most one POST (client packets): engine.io rejects overlapping POSTs from one session. GETs
// and POSTs each have their own keep-alive connection (see http1.js).
'use strict';

const { HttpConnection } = require('./http1');

const SEP = '\x1e'; // record separator between packets in a polling payload

/** One Socket.IO client on namespace `/` over long polling. */
class PollClient {
  /** @param {number} port server port on 127.0.0.1 @param {boolean} fresh a new connection per request */
  constructor(port, fresh = false) {
    this.getConn = new HttpConnection(port, fresh);
    this.postConn = new HttpConnection(port, fresh);
    this.path = '/socket.io/?EIO=4&transport=polling';
    this.acks = new Map();
    this.nextAckId = 0;
    this.postChain = Promise.resolve();
    this.connected = false;
    this.closed = false;
    this.error = null;
    this.onConnected = null;
  }

  /** Queues a POST of `body` behind any POST still in flight. */
  post(body) {
    this.postChain = this.postChain
      .then(() => this.postConn.request('POST', this.path, body))
      .catch((err) => this.fail(err));
    return this.postChain;
  }

  /** Handshakes, sends `40` and resolves once `40{...}` has arrived on the long poll. */
  async connect(timeoutMs = 30_000) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('connect timeout')), timeoutMs);
    });
    try {
      return await Promise.race([this.handshake(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The steps of connect(). */
  async handshake() {
    const open = await this.getConn.request('GET', this.path);
    if (open[0] !== '0') throw new Error(`unexpected open packet: ${open.slice(0, 100)}`);
    // The only JSON.parse in the generator: once per client, at connect.
    this.path += '&sid=' + encodeURIComponent(JSON.parse(open.slice(1)).sid);
    const connected = new Promise((resolve) => (this.onConnected = resolve));
    this.post('40');
    this.pollLoop();
    await connected;
    return this;
  }

  /** Keeps one GET outstanding for as long as the client is open. */
  async pollLoop() {
    while (!this.closed) {
      let body;
      try {
        body = await this.getConn.request('GET', this.path);
      } catch (err) {
        this.fail(err);
        return;
      }
      for (const packet of body.split(SEP)) this.onPacket(packet);
    }
  }

  /** Handles one Engine.IO packet from the server. */
  onPacket(packet) {
    if (packet.startsWith('43')) {
      const id = parseInt(packet.slice(2, 24), 10); // stops at the first non-digit
      const cb = this.acks.get(id);
      if (cb !== undefined) {
        this.acks.delete(id);
        cb(packet);
      }
    } else if (packet.startsWith('40')) {
      this.connected = true;
      if (this.onConnected) this.onConnected();
    } else if (packet === '2') {
      this.post('3');
    } else if (packet === '1') {
      this.fail(new Error('closed by server'));
    }
  }

  /** Sends `42<id>[<argsJson>]` and calls `onAck(packet)` when `43<id>[...]` arrives. */
  emitWithAck(argsJson, onAck) {
    const id = this.nextAckId++;
    this.acks.set(id, onAck);
    this.post('42' + id + '[' + argsJson + ']');
  }

  /** Records the first error and stops polling. */
  fail(err) {
    if (!this.error) this.error = err;
    this.closed = true;
  }

  /** Stops polling and drops both connections. */
  terminate() {
    this.closed = true;
    this.getConn.close();
    this.postConn.close();
  }
}

module.exports = { PollClient };

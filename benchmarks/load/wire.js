// Engine.IO v4 / Socket.IO v5 over the websocket transport, on a minimal RFC 6455 client.
//
// The generator must stay cheaper than the servers it measures. With the `ws` package the
// generator saturated its core at ~85k received frames/s (each fan-out delivery arrives on its
// own socket, so every frame costs a read plus the stream and event layers of net and ws). This
// client instead reads with net's `onread` into one shared buffer (no stream machinery, no
// allocation per read), parses frames in place, and classifies packets by their first bytes: no
// incoming traffic is JSON-parsed. Outgoing frames use an all-zero mask, which servers accept
// (RFC 6455 requires a mask to be present, not to be random) and which needs no XOR pass.
'use strict';

const net = require('node:net');

// Packet type bytes: Engine.IO open/ping/message, Socket.IO connect/event/ack (after the '4').
const C_OPEN = 0x30; // '0'
const C_PING = 0x32; // '2'
const C_MESSAGE = 0x34; // '4'
const C_CONNECT = 0x30; // '0' (as in "40")
const C_EVENT = 0x32; // '2' (as in "42")
const C_ACK = 0x33; // '3' (as in "43")

// WebSocket opcodes.
const OP_CONT = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

// Every socket reads into this buffer; callbacks run one at a time, so sharing is safe as long
// as nothing keeps a reference to it after the callback (partial frames are copied out).
const READ_BUFFER = Buffer.allocUnsafe(1 << 20);

const HANDSHAKE_END = Buffer.from('\r\n\r\n');

/** Reads the decimal number that starts at `offset` of `buf`; returns -1 if there is none. */
function readInt(buf, offset) {
  let n = -1;
  for (let i = offset; i < buf.length; i++) {
    const c = buf[i];
    if (c < 0x30 || c > 0x39) break;
    n = (n < 0 ? 0 : n * 10) + (c - 0x30);
  }
  return n;
}

/** A masked (all-zero key) client frame carrying the latin1/ASCII string `text`. */
function encodeFrame(opcode, text) {
  const len = text.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = 2 + ext + 4;
  const frame = Buffer.allocUnsafe(head + len);
  frame[0] = 0x80 | opcode;
  if (ext === 0) {
    frame[1] = 0x80 | len;
  } else if (ext === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(len), 2);
  }
  frame.writeUInt32BE(0, head - 4); // the mask key
  frame.write(text, head, 'latin1');
  return frame;
}

/** One Socket.IO client on namespace `/` over a raw websocket. */
class WsClient {
  /**
   * @param {number} port server port on 127.0.0.1
   * @param {(client: WsClient, buf: Buffer) => void} [onEvent] called for every `42` packet;
   *   `buf` is only valid during the call
   */
  constructor(port, onEvent) {
    this.port = port;
    this.onEvent = onEvent || (() => {});
    this.acks = new Map();
    this.nextAckId = 0;
    this.socket = null;
    this.upgraded = false;
    this.rest = null; // bytes of an incomplete frame (or handshake) carried to the next read
    this.fragments = null; // payloads of a fragmented message so far
    this.onOpen = null; // resolves connect() once `40{...}` has arrived
  }

  /** Opens the websocket and the Socket.IO session; resolves once `40{...}` has arrived. */
  connect(timeoutMs = 30_000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error('connect timeout')), timeoutMs);
      const fail = (err) => {
        clearTimeout(timer);
        this.terminate();
        reject(err);
      };
      this.onOpen = () => {
        clearTimeout(timer);
        this.socket.removeAllListeners('close');
        resolve(this);
      };
      const socket = net.connect({
        host: '127.0.0.1',
        port: this.port,
        noDelay: true, // small request/ack frames must not wait for Nagle
        onread: { buffer: READ_BUFFER, callback: (n, buf) => this.onRead(buf, n) },
      });
      this.socket = socket;
      socket.on('connect', () => {
        socket.write(
          'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n' +
            `Host: 127.0.0.1:${this.port}\r\n` +
            'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        );
      });
      // Errors after connect end the run through the scenario's own timeouts.
      socket.on('error', (err) => fail(err));
      socket.on('close', () => fail(new Error('closed before connect')));
    });
  }

  /** Consumes `n` freshly read bytes of the shared buffer. */
  onRead(buf, n) {
    let data = buf.subarray(0, n);
    if (this.rest !== null) {
      data = Buffer.concat([this.rest, data]);
      this.rest = null;
    }
    if (!this.upgraded) {
      const end = data.indexOf(HANDSHAKE_END);
      if (end < 0) {
        this.rest = Buffer.from(data);
        return;
      }
      if (data.toString('latin1', 9, 12) !== '101') {
        this.socket.destroy(new Error('upgrade refused: ' + data.toString('latin1', 0, end)));
        return;
      }
      this.upgraded = true;
      data = data.subarray(end + 4);
    }
    this.parseFrames(data);
  }

  /** Handles every complete frame in `data` and keeps a copy of a trailing partial frame. */
  parseFrames(data) {
    let pos = 0;
    while (data.length - pos >= 2) {
      const b0 = data[pos];
      let len = data[pos + 1] & 0x7f; // server frames are never masked
      let head = 2;
      if (len === 126) {
        if (data.length - pos < 4) break;
        len = data.readUInt16BE(pos + 2);
        head = 4;
      } else if (len === 127) {
        if (data.length - pos < 10) break;
        len = Number(data.readBigUInt64BE(pos + 2));
        head = 10;
      }
      if (data.length - pos < head + len) break;
      this.onFrame(b0 & 0x80, b0 & 0x0f, data.subarray(pos + head, pos + head + len));
      pos += head + len;
    }
    if (pos < data.length) this.rest = Buffer.from(data.subarray(pos));
  }

  /** Reassembles fragmented messages and answers control frames. */
  onFrame(fin, opcode, payload) {
    if (opcode === OP_TEXT || opcode === OP_BINARY) {
      if (fin) this.onPacket(payload);
      else this.fragments = [Buffer.from(payload)];
    } else if (opcode === OP_CONT && this.fragments !== null) {
      this.fragments.push(Buffer.from(payload));
      if (fin) {
        const whole = Buffer.concat(this.fragments);
        this.fragments = null;
        this.onPacket(whole);
      }
    } else if (opcode === OP_PING) {
      this.socket.write(encodeFrame(OP_PONG, payload.toString('latin1')));
    } else if (opcode === OP_CLOSE) {
      this.socket.end();
    }
  }

  /** Handles one Engine.IO packet. */
  onPacket(buf) {
    const c0 = buf[0];
    if (c0 === C_MESSAGE) {
      const c1 = buf[1];
      if (c1 === C_EVENT) {
        this.onEvent(this, buf);
      } else if (c1 === C_ACK) {
        const id = readInt(buf, 2);
        const cb = this.acks.get(id);
        if (cb !== undefined) {
          this.acks.delete(id);
          cb(buf);
        }
      } else if (c1 === C_CONNECT && this.onOpen !== null) {
        const onOpen = this.onOpen;
        this.onOpen = null;
        onOpen();
      }
    } else if (c0 === C_PING && buf.length === 1) {
      this.send('3');
    } else if (c0 === C_OPEN) {
      this.send('40');
    }
  }

  /** Sends one Engine.IO packet (an ASCII string) as a text frame. */
  send(text) {
    this.socket.write(encodeFrame(OP_TEXT, text));
  }

  /**
   * Sends `42<id>[<argsJson>]` and calls `onAck(buf)` when `43<id>[...]` arrives; `buf` is only
   * valid during the call.
   * @param {string} argsJson the JSON array body without brackets, e.g. `"echo",{"a":1}`
   */
  emitWithAck(argsJson, onAck) {
    const id = this.nextAckId++;
    this.acks.set(id, onAck);
    this.send('42' + id + '[' + argsJson + ']');
  }

  /** Sends `42[<argsJson>]` without an ack. */
  emit(argsJson) {
    this.send('42[' + argsJson + ']');
  }

  /** Drops the connection without a closing handshake (the run is over). */
  terminate() {
    if (this.socket) this.socket.destroy();
  }
}

/**
 * Connects `n` clients with at most `concurrency` handshakes in flight.
 * Resolves to { clients, failures, seconds }; failed clients are left out of `clients`.
 */
async function connectMany(n, concurrency, makeClient) {
  const clients = [];
  let failures = 0;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < n) {
      const i = next++;
      try {
        clients[i] = await makeClient(i).connect();
      } catch {
        failures++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return { clients: clients.filter(Boolean), failures, seconds };
}

module.exports = { WsClient, connectMany, readInt };

// A minimal HTTP/1.1 client on one persistent (keep-alive) connection, for the polling clients.
//
// node:http's client costs about as much per request as the servers under test spend on it,
// which saturated the generator first; this one writes the request as one string and parses
// only the status line, Content-Length / chunked framing and Connection: close. One request at
// a time per connection (no pipelining).
'use strict';

const net = require('node:net');

const READ_BUFFER = Buffer.allocUnsafe(1 << 16); // shared; see wire.js for why that is safe
const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * One keep-alive connection to 127.0.0.1:`port`, reopened after a Connection: close. With `fresh`
 * every request asks for Connection: close, so each one goes on a new TCP connection.
 */
class HttpConnection {
  /** @param {number} port server port on 127.0.0.1 @param {boolean} fresh one connection per request */
  constructor(port, fresh = false) {
    this.port = port;
    this.fresh = fresh;
    this.socket = null;
    this.pending = null; // { resolve, reject } of the request in flight
    this.data = null; // bytes of the response so far
  }

  /** Opens the connection if it is not open (again, after a Connection: close). */
  ensureOpen() {
    if (this.socket !== null) return;
    const socket = net.connect({
      host: '127.0.0.1',
      port: this.port,
      noDelay: true, // small requests must not wait on Nagle
      onread: { buffer: READ_BUFFER, callback: (n, buf) => this.onRead(buf, n) },
    });
    // A socket retired by Connection: close may report after its successor exists.
    socket.on('error', (err) => this.socket === socket && this.fail(err));
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.fail(new Error('connection closed'));
    });
    this.socket = socket;
  }

  /** Sends a request and resolves to the body (latin1 string) of a 200 response. */
  request(method, path, body) {
    return new Promise((resolve, reject) => {
      if (this.pending !== null) throw new Error('request already in flight');
      this.ensureOpen();
      this.pending = { resolve, reject, method };
      this.data = null;
      let head = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${this.port}\r\n`;
      if (this.fresh) head += 'Connection: close\r\n';
      if (body !== undefined) {
        head += `Content-Type: text/plain;charset=UTF-8\r\nContent-Length: ${body.length}\r\n`;
      }
      this.socket.write(head + '\r\n' + (body === undefined ? '' : body), 'latin1');
    });
  }

  /** Accumulates response bytes; settles the request once the response is complete. */
  onRead(buf, n) {
    const chunk = buf.subarray(0, n);
    this.data = this.data === null ? Buffer.from(chunk) : Buffer.concat([this.data, chunk]);
    const parsed = parseResponse(this.data);
    if (parsed === null || this.pending === null) return;
    const { resolve, reject, method } = this.pending;
    this.pending = null;
    this.data = null;
    if (parsed.close) {
      this.socket.end();
      this.socket = null; // the next request opens a new connection
    }
    if (parsed.status === 200) resolve(parsed.body);
    else reject(new Error(`${method} ${parsed.status}: ${parsed.body.slice(0, 200)}`));
  }

  /** Rejects the request in flight, if any. */
  fail(err) {
    if (this.pending !== null) {
      const { reject } = this.pending;
      this.pending = null;
      reject(err);
    }
  }

  /** Drops the connection. */
  close() {
    if (this.socket !== null) this.socket.destroy();
  }
}

/**
 * Parses a complete response out of `data`: { status, body, close }, or null if more bytes
 * are needed.
 */
function parseResponse(data) {
  const end = data.indexOf(HEADER_END);
  if (end < 0) return null;
  const head = data.toString('latin1', 0, end).toLowerCase();
  const status = Number(head.slice(9, 12));
  const close = /\r\nconnection: *close/.test(head);
  const start = end + 4;
  const length = /\r\ncontent-length: *(\d+)/.exec(head);
  if (length !== null) {
    const stop = start + Number(length[1]);
    if (data.length < stop) return null;
    return { status, body: data.toString('latin1', start, stop), close };
  }
  if (/\r\ntransfer-encoding: *chunked/.test(head)) {
    const body = parseChunked(data, start);
    return body === null ? null : { status, body, close };
  }
  return { status, body: '', close }; // no body framing: only valid for empty responses
}

/** The body of a chunked response starting at `pos`, or null if it is not complete yet. */
function parseChunked(data, pos) {
  let body = '';
  for (;;) {
    const eol = data.indexOf('\r\n', pos, 'latin1');
    if (eol < 0) return null;
    const size = parseInt(data.toString('latin1', pos, eol), 16);
    if (data.length < eol + 2 + size + 2) return null;
    if (size === 0) return body;
    body += data.toString('latin1', eol + 2, eol + 2 + size);
    pos = eol + 2 + size + 2;
  }
}

module.exports = { HttpConnection };

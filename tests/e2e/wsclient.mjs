// A bare WebSocket client on node's http upgrade for tests that read frames as the hub
// writes them (node 20 has no WebSocket of its own).

import { request } from 'node:http';
import { randomBytes } from 'node:crypto';

/** A WebSocket client on node's http upgrade: every text frame goes to `onFrame`. */
export class Socket {
  static open(url, onFrame) {
    return new Promise((ok, fail) => {
      const req = request(`${url}/ws`, {
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
          'Sec-WebSocket-Version': '13',
        },
      });
      req.on('upgrade', (_res, socket, head) => ok(new Socket(socket, head, onFrame)));
      req.on('response', (res) => fail(new Error(`no upgrade: ${res.statusCode}`)));
      req.on('error', fail);
      req.end();
    });
  }

  constructor(socket, head, onFrame) {
    this.socket = socket;
    this.buf = head;
    this.frames = 0;
    this.onFrame = onFrame;
    this.waiting = new Map(); // 'welcome', 'pong' or a command id → resolve
    this.arrived = new Map();
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.read();
    });
  }

  read() {
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) [len, off] = b.length < 4 ? [Infinity, 4] : [b.readUInt16BE(2), 4];
      else if (len === 127) [len, off] = b.length < 10 ? [Infinity, 10] : [Number(b.readBigUInt64BE(2)), 10];
      if (b.length < off + len) return;
      const [op, payload] = [b[0] & 0x0f, b.subarray(off, off + len)];
      this.buf = b.subarray(off + len);
      if (op === 1) {
        const f = JSON.parse(payload.toString('utf8'));
        this.frames += 1;
        this.onFrame(f);
        const key = f.type === 'result' ? f.id : f.type;
        if (key !== 'event') this.settle(key, f);
      } else if (op === 9) this.write(0xa, payload);
    }
  }

  settle(key, f) {
    const w = this.waiting.get(key);
    if (w) {
      this.waiting.delete(key);
      w(f);
    } else this.arrived.set(key, f);
  }

  next(key) {
    if (this.arrived.has(key)) {
      const f = this.arrived.get(key);
      this.arrived.delete(key);
      return Promise.resolve(f);
    }
    return new Promise((ok) => this.waiting.set(key, ok));
  }

  send(obj) {
    this.write(0x1, Buffer.from(JSON.stringify(obj)));
  }

  write(op, data) {
    const mask = randomBytes(4);
    const len = data.length;
    const head = len < 126 ? Buffer.from([0x80 | op, 0x80 | len])
      : Buffer.concat([Buffer.from([0x80 | op, 0x80 | 126]), Buffer.from([len >> 8, len & 0xff])]);
    const body = Buffer.from(data.map((x, i) => x ^ mask[i % 4]));
    this.socket.write(Buffer.concat([head, mask, body]));
  }

  close() {
    this.socket.destroy();
  }
}

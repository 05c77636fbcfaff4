#!/usr/bin/env node
// Node ws client against an echo server (duplex_peer_server), for tests/interop/run.sh.
//
//   NODE_PATH=/usr/share/nodejs node node_client.js ws://127.0.0.1:PORT/ [--deflate PARAMS]
//
// The server is expected to behave as duplex_peer_server does with --subprotocols
// chat.v2,chat: echo every message, ping on /ping, close at once with CODE on /close/CODE.
// Checks, each printed as "ok - ..." or "FAIL - ...":
//
//   * subprotocol selection, including ws's own rule that a client which offered subprotocols
//     refuses a server that chose none ("Server sent no subprotocol");
//   * on /ping: text, binary, empty text, empty binary, a text message in 3 frames cut inside
//     UTF-8 characters, a binary message in 4 frames, 16 MiB binary, 16 MiB text, a ping whose
//     pong must carry its payload, then a close with 4999 and a 123-byte reason;
//   * one connection per valid close code (1000-1003, 1007-1014, 3000, 3999, 4000, 4999) that
//     the client closes with that code and the reason "client close CODE ✓", checking the echo;
//   * one connection per valid close code that the server closes (/close/CODE), checking the
//     code and the reason "server close CODE ✓".
//
// ws offers permessage-deflate by default; duplex_peer_server without --deflate declines it.
// With --deflate PARAMS ("default", or a comma-separated list of server_no_context_takeover,
// client_no_context_takeover, server_max_window_bits=N, client_max_window_bits[=N]) it offers
// those parameters, compresses every message (threshold 0; ws's default skips those under 1 KiB),
// runs only the /ping script and checks that the extension was agreed. Exit status 0 if every
// check here passed, 1 otherwise.
'use strict';

const crypto = require('crypto');
const WebSocket = require('ws');

const CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
  3000, 3999, 4000, 4999];
const BIG = 16 * 1024 * 1024;
const FRAGMENT = 65536;
const TIMEOUT = 30000;
let failures = 0;
let deflate = null; // ws's perMessageDeflate options for --deflate

function deflateOptions(params) {
  return require('./deflate_options.js').deflateOptions(params, 'client');
}

function check(good, what, detail) {
  if (!good) ++failures;
  process.stdout.write((good ? 'ok - ' : 'FAIL - ') + what + (good || !detail ? '' : ': ' + detail) + '\n');
  return good;
}

function withTimeout(promise, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), TIMEOUT); })
  ]).finally(() => clearTimeout(timer));
}

// A connection with a queue of incoming messages, so that a read never misses one.
class Peer {
  constructor(url, protocols) {
    const options = { maxPayload: 64 * 1024 * 1024 };
    if (deflate) options.perMessageDeflate = deflate;
    this.ws = new WebSocket(url, protocols, options);
    this.queue = [];
    this.waiting = [];
    this.pongs = [];
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        for (const w of this.waiting.splice(0)) w.reject(new Error(`closed with ${code}`));
      });
    });
    this.ws.on('message', (data, isBinary) => {
      const m = { data, isBinary };
      const w = this.waiting.shift();
      if (w) w.resolve(m); else this.queue.push(m);
    });
    this.ws.on('pong', (data) => this.pongs.push(data));
  }

  open() {
    return withTimeout(new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
    }), 'open');
  }

  next() {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.closeInfo) return Promise.reject(new Error(`closed with ${this.closeInfo.code}`));
    return withTimeout(new Promise((resolve, reject) => this.waiting.push({ resolve, reject })), 'message');
  }

  close(code, reason) {
    this.ws.close(code, reason);
    return withTimeout(this.closed, 'close');
  }
}

function difference(got, isBinary, want, wantBinary) {
  if (isBinary !== wantBinary) return `echo came back as ${isBinary ? 'binary' : 'text'}`;
  if (got.length !== want.length) return `echo has ${got.length} bytes, sent ${want.length}`;
  let i = 0;
  while (i < got.length && got[i] === want[i]) ++i;
  return `echo differs at byte ${i}`;
}

async function expectEcho(peer, data, isBinary, name) {
  try {
    const m = await peer.next();
    const good = m.isBinary === isBinary && m.data.equals(data);
    check(good, `${name} echoed (${data.length} bytes)`, good ? '' : difference(m.data, m.isBinary, data, isBinary));
  } catch (e) {
    check(false, `${name}: no echo`, String(e));
  }
}

async function echo(peer, data, isBinary, name) {
  peer.ws.send(data, { binary: isBinary });
  await expectEcho(peer, data, isBinary, name);
}

// Sends `data` as one message in frames of FRAGMENT bytes, cut without regard to UTF-8.
async function echoFrames(peer, data, isBinary, name) {
  for (let at = 0; at < data.length; at += FRAGMENT)
    peer.ws.send(data.subarray(at, at + FRAGMENT), { binary: isBinary, fin: at + FRAGMENT >= data.length });
  await expectEcho(peer, data, isBinary, `${name} in ${Math.ceil(data.length / FRAGMENT)} frames`);
}

async function subprotocols(base) {
  const cases = [[['x-unknown', 'chat'], 'chat'], [['chat.v2', 'chat'], 'chat.v2'], [[], '']];
  for (const [offer, want] of cases) {
    const peer = new Peer(base, offer);
    await peer.open();
    check(peer.ws.protocol === want, `offering [${offer}], subprotocol ${JSON.stringify(want)} chosen`,
          `got ${JSON.stringify(peer.ws.protocol)}`);
    await peer.close(1000, 'subprotocol checked');
  }
  // The server speaks none of these, so it chooses none; ws then refuses the connection.
  const peer = new Peer(base, ['x-unknown']);
  try {
    await peer.open();
    check(false, 'offering [x-unknown], the server chooses none', `it chose ${JSON.stringify(peer.ws.protocol)}`);
    await peer.close(1000, '');
  } catch (e) {
    check(String(e).includes('Server sent no subprotocol'),
          'offering [x-unknown], the server chooses none (ws then refuses: "Server sent no subprotocol")', String(e));
  }
}

async function script(base) {
  const peer = new Peer(base + 'ping', ['x-unknown', 'chat', 'chat.v2']);
  await peer.open();
  check(peer.ws.protocol === 'chat', 'script connection: subprotocol "chat" chosen', `got ${JSON.stringify(peer.ws.protocol)}`);
  if (deflate)
    check(peer.ws.extensions.startsWith('permessage-deflate'), `permessage-deflate agreed: ${peer.ws.extensions}`,
          `extensions ${JSON.stringify(peer.ws.extensions)}`);
  await echo(peer, Buffer.from('hello, interop ✓ ü 😀'), false, 'text message');
  await echo(peer, Buffer.from([...Array(256).keys()]), true, 'binary message');
  await echo(peer, Buffer.alloc(0), false, 'empty text message');
  await echo(peer, Buffer.alloc(0), true, 'empty binary message');
  // 150000 bytes: both frame boundaries fall inside a 4-byte character.
  await echoFrames(peer, Buffer.from('ü€😀 '.repeat(15000)), false, 'fragmented text message');
  await echoFrames(peer, crypto.randomBytes(200000), true, 'fragmented binary message');
  await echo(peer, crypto.randomBytes(BIG), true, '16 MiB binary message');
  const text = Buffer.from('ü€😀 '.repeat(BIG / 10 | 0));
  await echo(peer, Buffer.concat([text, Buffer.alloc(BIG - text.length, 'x')]), false, '16 MiB text message');

  const payload = Buffer.from('node-client-ping ✓');
  const before = peer.pongs.length;
  peer.ws.ping(payload);
  await echo(peer, Buffer.from('after the ping'), false, 'message after the ping');
  const pong = peer.pongs[before];
  check(pong !== undefined && pong.equals(payload), "pong with the ping's payload received",
        pong === undefined ? 'no pong yet' : `pong carried ${JSON.stringify(pong.toString())}`);

  const reason = '✓'.repeat(41); // 123 bytes, the longest reason a close frame holds
  const { code } = await peer.close(4999, reason);
  check(code === 4999, 'closed with 4999 and a 123-byte reason; the echo has 4999', `the server answered ${code}`);
}

async function clientCloses(base) {
  for (const code of CLOSE_CODES) {
    const peer = new Peer(base);
    await peer.open();
    await echo(peer, Buffer.from(`before close ${code}`), false, `close ${code}: a message first`);
    const got = await peer.close(code, `client close ${code} ✓`);
    check(got.code === code, `client closed with ${code}; the server echoed ${code}`, `it answered ${got.code}`);
  }
}

async function serverCloses(base) {
  for (const code of CLOSE_CODES) {
    const peer = new Peer(`${base}close/${code}`);
    await peer.open();
    const got = await withTimeout(peer.closed, 'the server\'s close');
    const reason = `server close ${code} ✓`;
    check(got.code === code && got.reason === reason, `server closed with ${code} ${JSON.stringify(reason)}`,
          `received ${got.code} ${JSON.stringify(got.reason)}`);
    check(peer.queue.length === 0, `server close ${code}: no message before the close`);
  }
}

async function main() {
  if (process.argv.length === 5 && process.argv[3] === '--deflate') {
    deflate = deflateOptions(process.argv[4]);
    process.argv.length = 3;
  }
  if (process.argv.length !== 3) {
    process.stderr.write('usage: node_client.js ws://127.0.0.1:PORT/ [--deflate PARAMS]\n');
    process.exit(2);
  }
  const base = process.argv[2].endsWith('/') ? process.argv[2] : process.argv[2] + '/';
  process.stdout.write(`node ${process.version}, ws ${require('ws/package.json').version} from ${require.resolve('ws')}\n`);
  for (const part of deflate ? [script] : [subprotocols, script, clientCloses, serverCloses]) {
    try {
      await part(base);
    } catch (e) { // a failed handshake or a dropped connection: say so, go on
      check(false, part.name, String(e));
    }
  }
  process.exit(failures ? 1 : 0);
}

main();

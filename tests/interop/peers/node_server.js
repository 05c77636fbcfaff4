#!/usr/bin/env node
// Node ws echo server, for duplex_peer_client (tests/interop/run.sh).
//
//   NODE_PATH=/usr/share/nodejs node node_server.js [--port 0] [--subprotocols chat.v2,chat]
//                                                   [--deflate PARAMS]
//
// Prints "listening on 127.0.0.1:PORT" once it listens, then serves until SIGTERM or SIGINT.
// What a connection gets depends on its path:
//
//   /close/CODE  the server closes at once with CODE and the reason "server close CODE ✓", and
//                checks that the client's close frame echoes CODE;
//   /ping        the server pings the client ("node-server-ping") and then echoes; it checks
//                that a pong comes back with that payload;
//   otherwise    every message is echoed as it came (text or binary).
//
// The subprotocol is the first one the client offers that the server speaks. Each connection
// logs "conn N open path=... subprotocol=..." and "conn N close-received CODE "REASON"" (the
// client's close frame); checks print "ok - ..." or "FAIL - ...".
//
// permessage-deflate is off (ws's default for servers) unless --deflate PARAMS: "default", or a
// comma-separated list of server_no_context_takeover, client_no_context_takeover,
// server_max_window_bits=N, client_max_window_bits=N. Every message is then compressed
// (threshold 0), and the open line ends with the extensions agreed.
'use strict';

const { WebSocketServer } = require('ws');

const PING = Buffer.from('node-server-ping');

function say(line) {
  process.stdout.write(line + '\n');
}

function check(good, what, detail) {
  say((good ? 'ok - ' : 'FAIL - ') + what + (good || !detail ? '' : ': ' + detail));
}

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function deflateOptions(params) {
  return require('./deflate_options.js').deflateOptions(params, 'server');
}

const port = Number(option('--port', '0'));
const deflate = option('--deflate', null);
const spoken = option('--subprotocols', 'chat.v2,chat').split(',').filter(Boolean);
let ids = 0;

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  maxPayload: 64 * 1024 * 1024,
  perMessageDeflate: deflate === null ? false : deflateOptions(deflate),
  handleProtocols(offered) {
    for (const p of offered) if (spoken.includes(p)) return p;
    return false;
  }
});

wss.on('connection', (ws, req) => {
  const conn = `conn ${++ids}`;
  const path = req.url.split('?')[0];
  say(`${conn} open path=${path} subprotocol=${JSON.stringify(ws.protocol)}` +
      (deflate === null ? '' : ` extensions=${JSON.stringify(ws.extensions)}`));

  if (path.startsWith('/close/')) {
    const code = Number(path.slice('/close/'.length));
    ws.close(code, `server close ${code} ✓`);
    ws.on('close', (got, reason) => {
      check(got === code, `${conn}: the client echoed close code ${code}`, `it answered ${got}`);
      say(`${conn} close-received ${got} ${JSON.stringify(reason.toString())}`);
    });
    return;
  }

  let pong = null;
  if (path === '/ping') {
    ws.ping(PING);
    ws.on('pong', (data) => {
      if (pong === null) pong = data;
    });
  }
  let messages = 0;
  ws.on('message', (data, isBinary) => {
    ++messages;
    ws.send(data, { binary: isBinary });
  });
  ws.on('close', (code, reason) => {
    say(`${conn} ended after ${messages} messages`);
    say(`${conn} close-received ${code} ${JSON.stringify(reason.toString())}`);
    if (path === '/ping')
      check(pong !== null && pong.equals(PING), `${conn}: the client answered our ping with its payload`,
            pong === null ? 'no pong' : `the pong carried ${JSON.stringify(pong.toString())}`);
  });
  ws.on('error', (e) => check(false, `${conn}: no error`, String(e)));
});

wss.on('listening', () => {
  say(`node ${process.version}, ws ${require('ws/package.json').version} from ${require.resolve('ws')}`);
  say(`listening on 127.0.0.1:${wss.address().port}`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    for (const ws of wss.clients) ws.terminate();
    wss.close(() => process.exit(0));
  });
}

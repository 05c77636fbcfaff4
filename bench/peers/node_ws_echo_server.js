// node_ws_echo_server.js — a Node.js `ws` echo server, a peer in duplex's bench/e2e.sh.
// Echoes every message with its type kept (text stays text, binary stays binary);
// permessage-deflate is off (duplex has none yet).
//
//   NODE_PATH=/usr/share/nodejs node bench/peers/node_ws_echo_server.js [--address 127.0.0.1] [--port 8080]
//
// Prints "node_ws_echo_server listening on ADDRESS:PORT" (port 0 = ephemeral). SIGINT/SIGTERM: exit 0.
'use strict';

const { WebSocketServer } = require('ws');

let address = '127.0.0.1';
let port = 8080;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--address' && i + 1 < args.length) address = args[++i];
  else if (args[i] === '--port' && i + 1 < args.length) port = Number(args[++i]);
  else if (args[i] === '--threads' && i + 1 < args.length) i++; // Node runs one thread; accepted for symmetry
  else {
    console.error('usage: node node_ws_echo_server.js [--address 127.0.0.1] [--port 8080]');
    process.exit(2);
  }
}

const wss = new WebSocketServer({ host: address, port, perMessageDeflate: false, clientTracking: false, backlog: 4096 });

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    ws.send(data, { binary: isBinary });
  });
  ws.on('error', () => {});
});

wss.on('listening', () => {
  const a = wss.address();
  let version = '?';
  try {
    version = require('ws/package.json').version;
  } catch (e) {
    // the package may not export package.json
  }
  process.stdout.write(`node_ws_echo_server listening on ${a.address}:${a.port} (ws ${version}, node ${process.version})\n`);
});

wss.on('error', (err) => {
  console.error(`node_ws_echo_server: ${err.message}`);
  process.exit(1);
});

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));

#!/usr/bin/python3
"""Python websockets echo server, for duplex_peer_client (tests/interop/run.sh).

    /usr/bin/python3 python_server.py [--port 0] [--subprotocols chat.v2,chat] [--deflate PARAMS]

Prints "listening on 127.0.0.1:PORT" once it listens, then serves until SIGTERM or SIGINT.
What a connection gets depends on its path:

    /close/CODE  the server closes at once with CODE and the reason "server close CODE ✓", and
                 checks that the client's close frame echoes CODE;
    /ping        the server pings the client ("python-server-ping") and then echoes; it checks
                 that the pong comes back with that payload;
    otherwise    every message is echoed as it came (text or binary).

Subprotocols are chosen by websockets' own rule (the best sum of the positions in the client's
and the server's lists). Each connection logs "conn N open path=... subprotocol=..." and
"conn N close-received CODE "REASON"" (the client's close frame); checks print "ok - ..." or
"FAIL - ...".

permessage-deflate: websockets' default (it accepts an offer, asking for 12-bit windows both
ways), or with --deflate PARAMS its ServerPerMessageDeflateFactory with PARAMS (a comma-separated
list of server_no_context_takeover, client_no_context_takeover, server_max_window_bits=N,
client_max_window_bits=N), "off" to decline. The open line ends with the extensions agreed.
"""
import argparse
import asyncio
import itertools
import json
import signal

import websockets
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

PING = "python-server-ping".encode()
TIMEOUT = 20
ids = itertools.count(1)


def say(line):
    print(line, flush=True)


def check(good, what, detail=""):
    say(("ok - " if good else "FAIL - ") + what + ("" if good or not detail else ": " + detail))


def quoted(s):
    return json.dumps(s, ensure_ascii=False)


async def handler(ws):
    conn = f"conn {next(ids)}"
    path = ws.path.split("?")[0]
    say(f"{conn} open path={path} subprotocol={quoted(ws.subprotocol or '')} extensions={ws.extensions!r}")

    if path.startswith("/close/"):
        code = int(path[len("/close/"):])
        reason = f"server close {code} ✓"
        await ws.close(code, reason)
        check(ws.close_code == code, f"{conn}: the client echoed close code {code}",
              f"it answered {ws.close_code}")
        say(f"{conn} close-received {ws.close_code} {quoted(ws.close_reason)}")
        return

    pong = None
    if path == "/ping":
        pong = asyncio.ensure_future(asyncio.wait_for(await ws.ping(PING), TIMEOUT))
    messages = 0
    try:
        async for message in ws:
            messages += 1
            await ws.send(message)
    except ConnectionClosed:
        pass
    await ws.wait_closed()
    say(f"{conn} ended after {messages} messages")
    say(f"{conn} close-received {ws.close_code} {quoted(ws.close_reason)}")
    if pong is not None:
        try:
            await pong
            check(True, f"{conn}: the client answered our ping with its payload")
        except (asyncio.TimeoutError, ConnectionClosed) as e:
            check(False, f"{conn}: the client answered our ping with its payload", repr(e))


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--subprotocols", default="chat.v2,chat")
    parser.add_argument("--deflate", default=None)
    args = parser.parse_args()
    subprotocols = [p for p in args.subprotocols.split(",") if p]
    compression = {}
    if args.deflate == "off":
        compression = {"compression": None}
    elif args.deflate is not None:
        kwargs = {}
        for item in args.deflate.split(","):
            name, _, value = item.partition("=")
            if name in ("server_no_context_takeover", "client_no_context_takeover") and not value:
                kwargs[name] = True
            elif name in ("server_max_window_bits", "client_max_window_bits") and value:
                kwargs[name] = int(value)
            else:
                raise SystemExit(f"python_server.py: bad --deflate parameter {item!r}")
        compression = {"compression": None, "extensions": [ServerPerMessageDeflateFactory(**kwargs)]}

    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    async with websockets.serve(handler, "127.0.0.1", args.port, subprotocols=subprotocols,
                                max_size=None, ping_interval=None, **compression) as server:
        port = server.sockets[0].getsockname()[1]
        say(f"python websockets {websockets.version.version}")
        say(f"listening on 127.0.0.1:{port}")
        await stop


if __name__ == "__main__":
    asyncio.run(main())

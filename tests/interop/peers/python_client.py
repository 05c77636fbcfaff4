#!/usr/bin/python3
"""Python websockets client against an echo server (duplex_peer_server), for run.sh.

    /usr/bin/python3 python_client.py ws://127.0.0.1:PORT/ [--deflate PARAMS]

The server is expected to behave as duplex_peer_server does with --subprotocols chat.v2,chat:
echo every message, ping on /ping, close at once with CODE on /close/CODE. Checks, each printed
as "ok - ..." or "FAIL - ...":

  * subprotocol selection: offers chosen from, and none chosen when nothing matches;
  * on /ping: text, binary, empty text, empty binary, a text message in 3 frames cut inside
    UTF-8 characters, a binary message in 4 frames, 16 MiB binary, 16 MiB text, a ping whose
    pong must arrive, then a close with 4999 and a 123-byte reason;
  * one connection per valid close code (1000-1003, 1007-1014, 3000, 3999, 4000, 4999) that
    the client closes with that code and the reason "client close CODE ✓", checking the echo;
  * one connection per valid close code that the server closes (/close/CODE), checking the code
    and the reason "server close CODE ✓".

The server logs the close code and reason it received; run.sh checks those lines. Exit status 0
if every check here passed, 1 otherwise.

By default websockets offers permessage-deflate its own way (duplex_peer_server without
--deflate declines it). With --deflate PARAMS it offers exactly one permessage-deflate with
PARAMS ("default": none; else a comma-separated list of server_no_context_takeover,
client_no_context_takeover, server_max_window_bits=N, client_max_window_bits[=N]), runs only
the /ping script, and checks that the extension was agreed (websockets fails the handshake on
an answer that does not fit the offer).
"""
import asyncio
import random
import sys

import websockets
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory, PerMessageDeflate
from websockets.frames import Opcode

CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
               3000, 3999, 4000, 4999]
BIG = 16 * 1024 * 1024
FRAGMENT = 65536
TIMEOUT = 30
failures = 0
DEFLATE = None  # the factory of --deflate, or None


def deflate_factory(params):
    """--deflate PARAMS -> a ClientPerMessageDeflateFactory offering exactly those parameters
    ("default": websockets' own offer, permessage-deflate; client_max_window_bits)."""
    if params == "default":
        return ClientPerMessageDeflateFactory()
    kwargs = {"client_max_window_bits": None}
    for item in params.split(","):
        name, _, value = item.partition("=")
        if name in ("server_no_context_takeover", "client_no_context_takeover") and not value:
            kwargs[name] = True
        elif name == "server_max_window_bits" and value:
            kwargs[name] = int(value)
        elif name == "client_max_window_bits":
            kwargs[name] = int(value) if value else True
        else:
            raise SystemExit(f"python_client.py: bad --deflate parameter {item!r}")
    return ClientPerMessageDeflateFactory(**kwargs)


def check(good, what, detail=""):
    global failures
    if not good:
        failures += 1
    print(("ok - " if good else "FAIL - ") + what + ("" if good or not detail else ": " + detail),
          flush=True)
    return good


def connect(url, **kwargs):
    if DEFLATE is not None:
        kwargs.update(compression=None, extensions=[DEFLATE])
    return websockets.connect(url, max_size=None, ping_interval=None, open_timeout=TIMEOUT,
                              close_timeout=TIMEOUT, **kwargs)


def difference(got, want):
    if type(got) is not type(want):
        return f"echo is {type(got).__name__}, sent {type(want).__name__}"
    if len(got) != len(want):
        return f"echo has {len(got)} elements, sent {len(want)}"
    i = next(i for i in range(len(got)) if got[i] != want[i])
    return f"echo differs at element {i}"


async def receive(ws, name):
    try:
        return await asyncio.wait_for(ws.recv(), TIMEOUT)
    except (asyncio.TimeoutError, ConnectionClosed) as e:
        check(False, f"{name}: no echo", repr(e))
        return None


async def echo(ws, message, name):
    await ws.send(message)
    got = await receive(ws, name)
    if got is not None:
        size = len(message.encode() if isinstance(message, str) else message)
        check(got == message and type(got) is type(message), f"{name} echoed ({size} bytes)",
              "" if got == message and type(got) is type(message) else difference(got, message))


async def echo_frames(ws, opcode, data, name):
    """Sends `data` as one message in frames of FRAGMENT bytes, cut without regard to UTF-8."""
    chunks = [data[i:i + FRAGMENT] for i in range(0, len(data), FRAGMENT)]
    for i, chunk in enumerate(chunks):
        await ws.write_frame(i == len(chunks) - 1, opcode if i == 0 else Opcode.CONT, chunk)
    got = await receive(ws, name)
    want = data.decode() if opcode == Opcode.TEXT else data
    if got is not None:
        check(got == want, f"{name} in {len(chunks)} frames echoed ({len(data)} bytes)",
              "" if got == want else difference(got, want))


async def subprotocols(base):
    cases = [(["x-unknown", "chat"], "chat"), (["chat.v2", "chat"], "chat.v2"),
             (["x-unknown"], None), (None, None)]
    for offer, want in cases:
        async with connect(base, subprotocols=offer) as ws:
            check(ws.subprotocol == want, f"offering {offer}, subprotocol {want!r} chosen",
                  f"got {ws.subprotocol!r}")
            await ws.close(1000, "subprotocol checked")


async def script(base):
    rng = random.Random(6455)
    async with connect(base + "ping", subprotocols=["x-unknown", "chat", "chat.v2"]) as ws:
        check(ws.subprotocol == "chat", "script connection: subprotocol 'chat' chosen",
              f"got {ws.subprotocol!r}")
        if DEFLATE is not None:
            agreed = [e for e in ws.extensions if isinstance(e, PerMessageDeflate)]
            check(len(agreed) == 1, f"permessage-deflate agreed: {agreed[0] if agreed else None!r}",
                  f"extensions {ws.extensions!r}")
        await echo(ws, "hello, interop ✓ ü 😀", "text message")
        await echo(ws, bytes(range(256)), "binary message")
        await echo(ws, "", "empty text message")
        await echo(ws, b"", "empty binary message")
        # 150000 bytes: both frame boundaries fall inside a 4-byte character.
        await echo_frames(ws, Opcode.TEXT, ("ü€😀 " * 15000).encode(), "fragmented text message")
        await echo_frames(ws, Opcode.BINARY, rng.randbytes(200000), "fragmented binary message")
        await echo(ws, rng.randbytes(BIG), "16 MiB binary message")
        text = "ü€😀 " * (BIG // 10)
        await echo(ws, text + "x" * (BIG - len(text.encode())), "16 MiB text message")
        try:
            pong = await ws.ping("python-client-ping ✓".encode())
            await asyncio.wait_for(pong, TIMEOUT)
            check(True, "pong with the ping's payload received")
        except (asyncio.TimeoutError, ConnectionClosed) as e:
            check(False, "pong with the ping's payload received", repr(e))
        await echo(ws, "after the ping", "message after the ping")
        reason = "✓" * 41  # 123 bytes, the longest reason a close frame holds
        await ws.close(4999, reason)
        check(ws.close_code == 4999, "closed with 4999 and a 123-byte reason; the echo has 4999",
              f"the server answered {ws.close_code}")


async def client_closes(base):
    for code in CLOSE_CODES:
        async with connect(base) as ws:
            await echo(ws, f"before close {code}", f"close {code}: a message first")
            await ws.close(code, f"client close {code} ✓")
            check(ws.close_code == code, f"client closed with {code}; the server echoed {code}",
                  f"it answered {ws.close_code}")


async def server_closes(base):
    for code in CLOSE_CODES:
        async with connect(f"{base}close/{code}") as ws:
            try:
                message = await asyncio.wait_for(ws.recv(), TIMEOUT)
                check(False, f"server close {code}", f"got a message instead: {message!r:.60}")
            except ConnectionClosed:
                pass
            except asyncio.TimeoutError:
                check(False, f"server close {code}", "nothing came")
            await ws.wait_closed()
            reason = f"server close {code} ✓"
            check(ws.close_code == code and ws.close_reason == reason,
                  f"server closed with {code} {reason!r}",
                  f"received {ws.close_code} {ws.close_reason!r}")


async def main():
    global DEFLATE
    args = sys.argv[1:]
    if len(args) == 3 and args[1] == "--deflate":
        DEFLATE = deflate_factory(args[2])
        args = args[:1]
    if len(args) != 1:
        print("usage: python_client.py ws://127.0.0.1:PORT/ [--deflate PARAMS]", file=sys.stderr)
        sys.exit(2)
    base = args[0] if args[0].endswith("/") else args[0] + "/"
    print(f"python websockets {websockets.version.version}", flush=True)
    parts = (script,) if DEFLATE is not None else (subprotocols, script, client_closes, server_closes)
    for part in parts:
        try:
            await part(base)
        except Exception as e:  # a failed handshake or a dropped connection: say so, go on
            check(False, f"{part.__name__}", f"{type(e).__name__}: {e}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    asyncio.run(main())

#!/usr/bin/python3
"""Clients of two chat_server instances sharing rooms through Redis, for
tests/chat/scaleout_test.sh (Debian's python3-websockets).

    scaleout_checks.py free-port                   prints a free TCP port of 127.0.0.1
    scaleout_checks.py redis-ping PORT             exits 0 if 127.0.0.1:PORT answers PING with +PONG
    scaleout_checks.py clients PORT1 PORT2 SCRATCH the scenario below

clients: alice and dave on instance 1 (PORT1), bob, carol and erin on instance 2 (PORT2).
  phase 1 (relay up): bob joins "lobby", carol joins "other", alice joins "lobby" (bob sees her
    join), alice posts (bob sees it), bob posts (alice sees it), dave joins "lobby" on instance 1
    (alice and bob see it); then prints "phase1-done" and waits (at most 60 s) for the file
    SCRATCH/go-outage, which the shell script creates once Redis is killed and both
    instances reported the relay down;
  phase 2 (Redis down): alice posts (dave sees it on the same instance), bob posts (he sees it
    himself); erin connects to instance 2, joins "lobby" (bob sees it) and leaves by closing;
    after a second, neither outage message has crossed; prints "phase2-done" and waits for
    SCRATCH/go-recovered (Redis back, both instances reported the relay up);
  phase 3 (recovered): alice posts (bob and dave see it), bob posts (alice and dave see it).
  End: every client saw exactly the expected events, in order, each once (nothing posted
  during the outage ever crossed, carol saw nothing of "lobby"); every connection stayed
  open until the clients closed it; prints "done".
Prints one "ok - ..." or "FAIL - ..." line per check and exits 1 if any failed.
"""
import asyncio
import json
import os
import socket
import sys
import time

failures = 0
WAIT = 10  # seconds, for every expected event


def check(good, what, detail=""):
    global failures
    if not good:
        failures += 1
    print(("ok - " if good else "FAIL - ") + what + ("" if good or not detail else ": " + str(detail)), flush=True)
    return good


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def redis_ping(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"PING\r\n")
            data = b""
            while not data.endswith(b"\r\n"):
                chunk = s.recv(64)
                if not chunk:
                    break
                data += chunk
            return data == b"+PONG\r\n"
    except OSError:
        return False


class Client:
    """A logged-in chat client that records every event it receives."""

    def __init__(self, name, port):
        self.name = name
        self.port = port
        self.seen = []
        self.ws = None
        self.reader = None
        self.closed_early = None  # (code, reason) if the server closed it

    async def connect(self):
        import websockets
        self.ws = await websockets.connect(f"ws://127.0.0.1:{self.port}/ws", open_timeout=WAIT,
                                           extra_headers={"Authorization": "Bearer tok-" + self.name})
        hello = json.loads(await asyncio.wait_for(self.ws.recv(), WAIT))
        check(hello == {"type": "auth_success", "user": self.name},
              f"{self.name} logged in on instance {self.instance()}", hello)
        self.reader = asyncio.ensure_future(self._read())

    def instance(self):
        return 1 if self.port == ports[0] else 2

    async def _read(self):
        import websockets
        try:
            async for text in self.ws:
                self.seen.append(json.loads(text))
        except websockets.ConnectionClosed:
            pass
        if not self.closing:
            self.closed_early = (self.ws.close_code, self.ws.close_reason)

    closing = False

    async def send(self, **msg):
        await self.ws.send(json.dumps(msg))

    async def wait_for(self, event, what):
        """Waits until event is among the received ones."""
        deadline = time.monotonic() + WAIT
        while event not in self.seen:
            if time.monotonic() >= deadline or self.reader.done():
                return check(False, what, "not within %d s; seen %s" % (WAIT, json.dumps(self.seen)))
            await asyncio.sleep(0.02)
        return check(True, what)

    async def join(self, room, members):
        await self.send(type="join", room=room)
        await self.wait_for({"type": "joined", "room": room, "user": self.name},
                            f"{self.name} joined {room} on instance {self.instance()}")
        want = {"type": "members", "room": room, "users": members}
        check(want in self.seen, f"{self.name}: members of {room} on instance {self.instance()} are {members}",
              json.dumps(self.seen))

    async def close(self):
        self.closing = True
        await self.ws.close()
        await self.reader


def msg(user, text, room="lobby"):
    return {"type": "message", "room": room, "user": user, "text": text}


def joined(user, room="lobby"):
    return {"type": "joined", "room": room, "user": user}


def left(user, room="lobby"):
    return {"type": "left", "room": room, "user": user}


async def wait_file(path, timeout=60):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() >= deadline:
            return check(False, "the test script said to go on (" + os.path.basename(path) + ")",
                         "not within %d s" % timeout)
        await asyncio.sleep(0.05)
    return True


async def clients(scratch):
    alice, dave = Client("alice", ports[0]), Client("dave", ports[0])
    bob, carol = Client("bob", ports[1]), Client("carol", ports[1])
    everyone = (alice, bob, carol, dave)

    # ---- phase 1: the relay is up ----
    for c in everyone:
        await c.connect()
    await bob.join("lobby", ["bob"])
    await carol.join("other", ["carol"])
    await alice.join("lobby", ["alice"])
    await bob.wait_for(joined("alice"), "bob (instance 2) saw alice join lobby on instance 1")

    m1 = msg("alice", "hello from alice on 1")
    await alice.send(type="message", room="lobby", text=m1["text"])
    await alice.wait_for(m1, "alice saw her own message")
    await bob.wait_for(m1, "bob (instance 2) saw alice's message posted on instance 1")
    m2 = msg("bob", "hello from bob on 2 \u00e9 \U0001f600")
    await bob.send(type="message", room="lobby", text=m2["text"])
    await bob.wait_for(m2, "bob saw his own message")
    await alice.wait_for(m2, "alice (instance 1) saw bob's message posted on instance 2")

    await dave.join("lobby", ["alice", "dave"])
    await alice.wait_for(joined("dave"), "alice saw dave join on her instance")
    await bob.wait_for(joined("dave"), "bob (instance 2) saw dave join on instance 1")

    print("phase1-done", flush=True)
    outage = await wait_file(os.path.join(scratch, "go-outage"))

    # ---- phase 2: Redis is down ----
    m3 = msg("alice", "alice during the outage")
    m4 = msg("bob", "bob during the outage")
    erin = None
    if outage:
        await alice.send(type="message", room="lobby", text=m3["text"])
        await alice.wait_for(m3, "outage: alice saw her own message")
        await dave.wait_for(m3, "outage: dave saw alice's message (same instance)")
        await bob.send(type="message", room="lobby", text=m4["text"])
        await bob.wait_for(m4, "outage: bob saw his own message")

        erin = Client("erin", ports[1])
        await erin.connect()
        await erin.join("lobby", ["bob", "erin"])
        await bob.wait_for(joined("erin"), "outage: bob saw erin join (same instance)")
        await erin.close()
        await bob.wait_for(left("erin"), "outage: bob saw erin leave when she disconnected")

        await asyncio.sleep(1)
        check(m3 not in bob.seen, "outage: alice's message did not reach bob on the other instance", json.dumps(bob.seen))
        check(m4 not in alice.seen and m4 not in dave.seen,
              "outage: bob's message did not reach alice and dave on the other instance",
              json.dumps(alice.seen + dave.seen))
        for c in everyone:
            check(c.closed_early is None, f"outage: {c.name} is still connected", c.closed_early)

    print("phase2-done", flush=True)
    recovered = await wait_file(os.path.join(scratch, "go-recovered"))

    # ---- phase 3: Redis is back ----
    m5 = msg("alice", "alice after the recovery")
    m6 = msg("bob", "bob after the recovery")
    if recovered:
        await alice.send(type="message", room="lobby", text=m5["text"])
        await bob.wait_for(m5, "recovered: bob (instance 2) saw alice's message posted on instance 1")
        await dave.wait_for(m5, "recovered: dave saw alice's message")
        await bob.send(type="message", room="lobby", text=m6["text"])
        await alice.wait_for(m6, "recovered: alice (instance 1) saw bob's message posted on instance 2")
        await dave.wait_for(m6, "recovered: dave (instance 1) saw bob's message posted on instance 2")

    # ---- the whole story, per client ----
    await asyncio.sleep(0.5)  # anything late or duplicated would arrive by now
    for c in everyone:
        check(c.closed_early is None, f"{c.name} stayed connected throughout", c.closed_early)
    lobby = lambda c: [m for m in c.seen if m.get("room") == "lobby"]  # noqa: E731
    want = {
        alice: [{"type": "members", "room": "lobby", "users": ["alice"]}, joined("alice"), m1, m2, joined("dave"), m3],
        dave: [{"type": "members", "room": "lobby", "users": ["alice", "dave"]}, joined("dave"), m3],
        bob: [{"type": "members", "room": "lobby", "users": ["bob"]}, joined("bob"), joined("alice"), m1, m2,
              joined("dave"), m4, joined("erin"), left("erin")],
    }
    if recovered:
        want[alice] += [m5, m6]
        want[dave] += [m5, m6]
        want[bob] += [m5, m6]
    for c, events in want.items():
        check(lobby(c) == events and c.seen == events,
              f"{c.name} saw exactly the expected events, in order, each once", json.dumps(c.seen))
    carol_want = [{"type": "members", "room": "other", "users": ["carol"]}, joined("carol", "other")]
    check(carol.seen == carol_want, "carol (room other, instance 2) saw nothing of lobby", json.dumps(carol.seen))
    if erin is not None:
        check(erin.seen[:2] == [{"type": "members", "room": "lobby", "users": ["bob", "erin"]}, joined("erin")]
              and all(m.get("type") != "message" for m in erin.seen),
              "erin saw her members list and join, no message", json.dumps(erin.seen))

    for c in everyone:
        await c.close()
    print("done", flush=True)


ports = ()


def main():
    global ports
    if len(sys.argv) == 2 and sys.argv[1] == "free-port":
        free_port()
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "redis-ping":
        return 0 if redis_ping(int(sys.argv[2])) else 1
    if len(sys.argv) == 5 and sys.argv[1] == "clients":
        ports = (int(sys.argv[2]), int(sys.argv[3]))
        try:
            asyncio.run(asyncio.wait_for(clients(sys.argv[4]), 120))
        except Exception as e:  # a broken connection or a timeout: one failure, not a traceback only
            check(False, "the client scenario ran to its end", repr(e))
        return 1 if failures else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

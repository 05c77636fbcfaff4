#!/usr/bin/python3
"""Checks of examples/chat_server for tests/chat/browser_test.sh (Debian's python3-websockets).

    chat_checks.py participant PORT TOKEN   carol: the third participant, in rooms A and B
    chat_checks.py handshake PORT           logins at the handshake and by first message
    chat_checks.py heartbeat PORT TOKEN     a silent peer is dropped, a live one is not
    chat_checks.py static PORT WEB_DIR      the page and its files over plain HTTP
    chat_checks.py page DOM_FILE SPEC_JSON  the summary a Chromium page wrote in its DOM

Each prints one "ok - ..." or "FAIL - ..." line per check and exits 1 if any failed.
participant prints "ready" once it is in both rooms, then runs until the server closes it.
"""
import asyncio
import html
import json
import re
import socket
import sys
import time

import websockets

failures = 0


def check(good, what, detail=""):
    global failures
    if not good:
        failures += 1
    print(("ok - " if good else "FAIL - ") + what + ("" if good or not detail else ": " + str(detail)), flush=True)
    return good


def url(port, path="/ws"):
    return f"ws://127.0.0.1:{port}{path}"


async def recv_json(ws, timeout=10):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def expect_closed(ws, timeout=10):
    """Reads until the connection closes; returns (messages, close code, reason)."""
    got = []
    try:
        while True:
            got.append(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
    except websockets.ConnectionClosed:
        return got, ws.close_code, ws.close_reason
    except asyncio.TimeoutError:
        return got, None, "not closed in time"


# ---- carol ----

async def participant(port, token):
    async with websockets.connect(url(port), extra_headers={"Authorization": "Bearer " + token}) as ws:
        hello = await recv_json(ws)
        check(hello == {"type": "auth_success", "user": "carol"}, "carol: Bearer login answered with auth_success", hello)
        for room in ("A", "B"):
            await ws.send(json.dumps({"type": "join", "room": room}))
            members = await recv_json(ws)
            joined = await recv_json(ws)
            check(members == {"type": "members", "room": room, "users": ["carol"]}, f"carol: members of {room}", members)
            check(joined == {"type": "joined", "room": room, "user": "carol"}, f"carol: joined {room}", joined)
        print("ready", flush=True)

        seen = []
        async def until(pred, what, timeout):
            deadline = time.monotonic() + timeout
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    return check(False, "carol: " + what, "timed out; seen " + json.dumps(seen))
                try:
                    seen.append(await recv_json(ws, left))
                except asyncio.TimeoutError:
                    pass
            return True

        def has(msg):
            return lambda: msg in seen

        alice_msg = {"type": "message", "room": "A", "user": "alice", "text": "hello from alice"}
        bob_msg = {"type": "message", "room": "B", "user": "bob", "text": "hello from bob <b>&amp;</b> \u00e9"}
        if await until(lambda: alice_msg in seen and bob_msg in seen, "saw the pages' messages", 40):
            await ws.send(json.dumps({"type": "message", "room": "A", "text": "carol to A"}))
            await ws.send(json.dumps({"type": "message", "room": "B", "text": "carol to B"}))
            await until(lambda: {"type": "left", "room": "A", "user": "alice"} in seen and
                        {"type": "left", "room": "B", "user": "bob"} in seen,
                        "saw alice and bob leave when their pages closed", 30)
        expected = {
            "A": [{"type": "joined", "room": "A", "user": "alice"}, alice_msg,
                  {"type": "message", "room": "A", "user": "carol", "text": "carol to A"},
                  {"type": "left", "room": "A", "user": "alice"}],
            "B": [{"type": "joined", "room": "B", "user": "bob"}, bob_msg,
                  {"type": "message", "room": "B", "user": "carol", "text": "carol to B"},
                  {"type": "left", "room": "B", "user": "bob"}],
        }
        for room, want in expected.items():
            got = [m for m in seen if m.get("room") == room]
            check(got == want, f"carol: room {room} had exactly its own events, in order", json.dumps(got))
        check(all(m.get("room") in ("A", "B") for m in seen), "carol: nothing from rooms she is not in",
              json.dumps(seen))

        await ws.send(json.dumps({"type": "leave", "room": "A"}))
        left = await recv_json(ws)
        check(left == {"type": "left", "room": "A", "user": "carol"}, "carol: leave is confirmed by her own left notice", left)
        await ws.send(json.dumps({"type": "message", "room": "A", "text": "after leaving"}))
        err = await recv_json(ws)
        check(err.get("type") == "error", "carol: posting in a room she left is refused", err)
        print("carol-done", flush=True)

        rest, code, reason = await expect_closed(ws, 120)
        check(code == 1001, "carol: the server's shutdown closed her connection with 1001", f"{code} {reason}")
        check(not rest, "carol: nothing else arrived before the close", rest)


# ---- handshake and first-message logins ----

async def refused_status(port, headers, path="/ws"):
    try:
        async with websockets.connect(url(port, path), extra_headers=headers, open_timeout=10):
            return 101
    except websockets.InvalidStatusCode as e:
        return e.status_code


async def handshake(port):
    async with websockets.connect(url(port), extra_headers={"Authorization": "Bearer tok-alice"}) as ws:
        m = await recv_json(ws)
        check(m == {"type": "auth_success", "user": "alice"}, "Authorization: Bearer with a good token: auth_success at once", m)
        await ws.send(json.dumps({"type": "auth", "token": "tok-alice"}))
        m = await recv_json(ws)
        check(m.get("type") == "error", "a second auth is an error, not a close", m)

    status = await refused_status(port, {"Authorization": "Bearer wrong-token"})
    check(status == 401, "Authorization: Bearer with a bad token: HTTP 401", status)
    status = await refused_status(port, {"Authorization": "Basic YWxpY2U6eA=="})
    check(status == 401, "Authorization with another scheme: HTTP 401", status)

    async with websockets.connect(url(port), extra_headers={"Cookie": "theme=dark; chat_token=tok-bob"}) as ws:
        m = await recv_json(ws)
        check(m == {"type": "auth_success", "user": "bob"}, "cookie chat_token with a good token: auth_success at once", m)
    status = await refused_status(port, {"Cookie": "chat_token=wrong-token"})
    check(status == 401, "cookie chat_token with a bad token: HTTP 401", status)
    status = await refused_status(port, {"Cookie": "chat_token=tok-bob", "Origin": "http://evil.example"})
    check(status == 403, "cookie login from another origin: HTTP 403", status)
    status = await refused_status(port, {"Authorization": "Bearer tok-alice"}, "/elsewhere")
    check(status == 404, "an upgrade of another path: HTTP 404", status)

    async def first_message(data, what, reason_part):
        async with websockets.connect(url(port)) as ws:
            await ws.send(data)
            got, code, reason = await expect_closed(ws)
            check(len(got) == 1 and got[0].get("type") == "auth_failed" and reason_part in got[0].get("reason", ""),
                  what + ": auth_failed", got)
            check(code == 1008, what + ": closed with 1008", f"{code} {reason}")

    await first_message(json.dumps({"type": "auth", "token": "wrong-token"}), "a wrong token in the first message", "invalid token")
    await first_message(json.dumps({"type": "join", "room": "A"}), "a join before auth", "authenticate first")
    await first_message("not json", "malformed JSON before auth", "bad JSON")
    await first_message(b"\x01\x02", "a binary message before auth", "text")

    started = time.monotonic()
    async with websockets.connect(url(port)) as ws:
        got, code, reason = await expect_closed(ws, 15)
        waited = time.monotonic() - started
        check(len(got) == 1 and got[0] == {"type": "auth_failed", "reason": "authentication timed out"},
              "no auth in time: auth_failed", got)
        check(code == 1008 and 1.5 <= waited < 6, "no auth in time: closed with 1008 after the auth timeout (2 s)",
              f"{code} after {waited:.1f} s")

    async with websockets.connect(url(port)) as ws:
        await ws.send(json.dumps({"type": "auth", "token": "tok-dave"}))
        m = await recv_json(ws)
        check(m == {"type": "auth_success", "user": "dave"}, "a good token in the first message: auth_success", m)
        bad = [
            ('{"type":"message","room":"A","text":"x"}', "join A before"),
            ('{"type":"join","room":"no spaces"}', "room"),
            ('{"type":"join","room":"' + "r" * 65 + '"}', "room"),
            ('{"type":"join","room":"A","extra":null}', "null"),
            ('{"type":"join","room":{"a":1}}', "nested"),
            ('{"type":"join","type":"leave"}', "duplicate"),
            ('{"type":"join","room":"A"} trailing', "after the object"),
            ('{"type":"message","room":"A","text":"\\ud800"}', "surrogate"),
            ('{"type":"dance","room":"A"}', "unknown"),
            ('[1,2]', "object"),
        ]
        for text, part in bad:
            await ws.send(text)
            m = await recv_json(ws)
            check(m.get("type") == "error" and part in m.get("reason", ""), f"refused with an error: {text[:40]}", m)
        await ws.send(json.dumps({"type": "join", "room": "D"}))
        await recv_json(ws)  # members
        await recv_json(ws)  # joined
        await ws.send(json.dumps({"type": "message", "room": "D", "text": "x" * 4097}))
        m = await recv_json(ws)
        check(m.get("type") == "error", "a text over 4096 bytes is refused", m)
        text = "tab\there \"quoted\" back\\slash \u2028 \U0001f600 \x01"
        await ws.send(json.dumps({"type": "message", "room": "D", "text": text}))
        m = await recv_json(ws)
        check(m == {"type": "message", "room": "D", "user": "dave", "text": text}, "escapes and non-ASCII survive the round trip", m)
        await ws.send(json.dumps({"type": "message", "room": "D", "text": "still open", "n": -1.5e3, "b": True}))
        m = await recv_json(ws)
        check(m.get("text") == "still open", "numbers and booleans are accepted as extra fields", m)


# ---- heartbeat ----

async def heartbeat(port, token):
    # A peer that completes the handshake and then never reads nor answers pings.
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    s.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               f"Authorization: Bearer {token}\r\n\r\n").encode())
    started = time.monotonic()
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    check(head.startswith(b"HTTP/1.1 101"), "heartbeat: the silent peer's handshake succeeded", head[:40])
    # Let pings arrive unanswered; then see whether the server has dropped the connection.
    dropped = False
    while time.monotonic() - started < 8:
        try:
            if not s.recv(4096):
                dropped = True
                break
        except ConnectionResetError:
            dropped = True
            break
        except socket.timeout:
            break
    waited = time.monotonic() - started
    check(dropped and waited < 4, "heartbeat: a peer that answers no ping is dropped (ping every 500 ms)",
          f"dropped={dropped} after {waited:.1f} s")
    s.close()

    # websockets answers pings: the connection outlives several ping intervals.
    async with websockets.connect(url(port), extra_headers={"Authorization": "Bearer " + token}, ping_interval=None) as ws:
        await recv_json(ws)
        await asyncio.sleep(2.5)
        await ws.send(json.dumps({"type": "join", "room": "hb"}))
        m = await recv_json(ws)
        check(m.get("type") == "members", "heartbeat: a peer that answers pings stays connected", m)


# ---- plain HTTP ----

def http_raw(port, request):
    with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1]) if lines and lines[0].startswith("HTTP/1.1 ") else 0
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return status, fields, body


def get(port, target, method="GET"):
    return http_raw(port, f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())


def static(port, web):
    status, fields, body = get(port, "/")
    with open(web + "/index.html", "rb") as f:
        index = f.read()
    check(status == 200 and fields.get("content-type", "").startswith("text/html") and body == index,
          "GET / returns index.html as text/html", f"{status} {fields.get('content-type')} {len(body)} bytes")
    check(fields.get("content-length") == str(len(index)) and fields.get("connection") == "close",
          "GET / has Content-Length and Connection: close", fields)
    for path, kind in (("/app.js", "text/javascript"), ("/style.css", "text/css"), ("/index.html?x=1", "text/html")):
        status, fields, body = get(port, path)
        check(status == 200 and fields.get("content-type", "").startswith(kind) and len(body) > 0,
              f"GET {path} returns {kind}", f"{status} {fields.get('content-type')}")
    status, fields, body = get(port, "/", "HEAD")
    check(status == 200 and body == b"" and fields.get("content-length") == str(len(index)), "HEAD / has no body", status)
    for path in ("/../../etc/passwd", "/..%2f..%2fetc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/./index.html",
                 "//etc/passwd", "/chat\\..\\..\\etc\\passwd"):
        status, fields, body = get(port, path)
        check(status in (400, 403, 404) and b"root:" not in body, f"GET {path} is refused", f"{status} {body[:60]!r}")
    status, _, _ = get(port, "/missing.html")
    check(status == 404, "GET /missing.html: 404", status)
    status, fields, _ = get(port, "/", "POST")
    check(status == 405 and "GET" in fields.get("allow", ""), "POST /: 405 with Allow", status)
    status, _, _ = http_raw(port, b"GARBAGE\r\n\r\n")
    check(status == 400, "a malformed request line: 400", status)
    status, _, _ = http_raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nBad Field: y\r\n\r\n")
    check(status == 400, "a malformed field: 400", status)
    status, _, _ = http_raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
    check(status == 431, "a head over 8 KiB: 431", status)
    status, _, _ = get(port, "/ws")
    check(status == 426, "a plain GET of /ws: 426", status)


# ---- a Chromium page's summary ----

def page(dom_file, spec_json):
    spec = json.loads(spec_json)
    label = spec["label"]
    with open(dom_file, encoding="utf-8", errors="replace") as f:
        dom = f.read()
    m = re.search(r'<pre id="result"[^>]*>(.*?)</pre>', dom, re.S)
    if not check(m is not None and m.group(1) != "RUNNING", f"{label}: the page wrote its summary", dom[:300]):
        return
    try:
        got = json.loads(html.unescape(m.group(1)))
    except ValueError as e:
        check(False, f"{label}: the summary is JSON", e)
        return
    for key in ("user", "auth", "members", "events", "errors", "end"):
        if key in spec:
            check(got.get(key) == spec[key], f"{label}: {key} is {json.dumps(spec[key])}", json.dumps(got.get(key)))
    if "auth_reason" in spec:
        check(spec["auth_reason"] in (got.get("auth_reason") or ""), f"{label}: auth_failed says why",
              got.get("auth_reason"))
    if "close_code" in spec:
        close = got.get("close") or {}
        check(close.get("code") == spec["close_code"], f"{label}: the page saw close code {spec['close_code']}",
              json.dumps(close))


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    what, args = sys.argv[1], sys.argv[2:]
    if what == "participant":
        try:
            asyncio.run(participant(*args))
        except websockets.ConnectionClosed as e:
            check(False, "carol: her connection stayed open until the shutdown", e)
    elif what == "handshake":
        asyncio.run(handshake(*args))
    elif what == "heartbeat":
        asyncio.run(heartbeat(*args))
    elif what == "static":
        static(*args)
    elif what == "page":
        page(*args)
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Tests of the tester: runs chosen cases of fuzzingclient.py and fuzzingserver.py against a
small Python echo peer that can be told to misbehave in specific ways, and checks that each
misbehaviour gets the verdict Autobahn gives it (and that the well-behaved peer gets OK).

    selftest.py [-v]

Exits 0 if every expectation holds. The checks run in parallel: a few seconds.
"""

import codecs
import os
import select
import socket
import sys
import threading
import time
import types

import cases as C
import fuzzingclient
import fuzzingserver
import wsfuzz


class EchoPeer:
    """An RFC 6455 echo endpoint over a blocking socket, in either role, streaming: each
    payload octet is looked at as it arrives, so text fails fast inside frames. `flags`:

      late_utf8      validate text only when the message ends (fail-fast missing)
      drop_queued    when a frame is bad, discard echoes not yet written (no echo before fail)
      wrong_code     fail invalid UTF-8 with 1002 instead of 1007
      ignore_rsv     accept RSV bits
      no_pong        ignore pings
      lenient_mask   accept frames masked the wrong way
      lax_close      answer any close frame, whatever its code or reason
      no_drop        as a server, keep TCP open after the closing handshake
      no_close_echo  as a server, answer a close frame by dropping TCP
    """

    def __init__(self, sock, role, leftover=b"", flags=()):
        self.sock, self.role, self.flags = sock, role, set(flags)
        self.buf = bytearray(leftover)
        self.pending = []          # echoes queued during this read
        self.msg_op = None
        self.msg = bytearray()
        self.decoder = None
        self.frame = None          # [fin, op, length, key, consumed]
        self.closing = False

    def send(self, op, payload=b"", fin=True):
        key = os.urandom(4) if self.role == "client" else None
        self.pending.append(wsfuzz.build_frame(op, payload, fin, 0, key))

    def write_pending(self):
        data, self.pending = b"".join(self.pending), []
        if data:
            try:
                self.sock.sendall(data)
            except OSError:
                raise EOFError

    def fail(self, code):
        if "drop_queued" in self.flags:
            self.pending = []
        self.send(C.CLOSE, code.to_bytes(2, "big"))
        self.write_pending()
        self.end(after_close=False)

    def end(self, after_close=True):
        if self.role == "server" and "no_drop" in self.flags and after_close:
            self.sock.settimeout(3)
            try:
                while self.sock.recv(65536):
                    pass
            except OSError:
                pass
        elif self.role == "client":
            self.sock.settimeout(2)
            try:
                while self.sock.recv(65536):
                    pass
            except OSError:
                pass
        self.sock.close()
        raise EOFError

    def run(self, seconds=30):
        self.sock.settimeout(seconds)
        try:
            while True:
                self.process()
                if "drop_queued" in self.flags:
                    # Take in whatever else is about to arrive before writing, so that a bad
                    # frame right behind a message is seen before its echo is written.
                    while select.select([self.sock], [], [], 0.05)[0]:
                        data = self.sock.recv(1 << 20)
                        if not data:
                            break
                        self.buf += data
                        self.process()
                self.write_pending()
                data = self.sock.recv(1 << 20)
                if not data:
                    self.sock.close()
                    return
                self.buf += data
        except EOFError:
            return
        except OSError:
            self.sock.close()

    def process(self):
        while True:
            if self.frame is None:
                if not self.header():
                    return
            if not self.payload():
                return

    def header(self):
        b = self.buf
        if len(b) < 2:
            return False
        fin, rsv, op, masked, n = b[0] >> 7, (b[0] >> 4) & 7, b[0] & 15, b[1] >> 7, b[1] & 127
        if rsv and "ignore_rsv" not in self.flags:
            self.fail(1002)
        if op in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15) or (op >= 8 and (not fin or n > 125)):
            self.fail(1002)
        if masked != (self.role == "server") and "lenient_mask" not in self.flags:
            self.fail(1002)
        hl = 2 + {126: 2, 127: 8}.get(n, 0) + 4 * masked
        if len(b) < hl:
            return False
        if n >= 126:
            n = int.from_bytes(b[2:hl - 4 * masked], "big")
        key = bytes(b[hl - 4:hl]) if masked else None
        del b[:hl]
        if op == C.CONT and self.msg_op is None or op in (C.TEXT, C.BINARY) and self.msg_op is not None:
            self.fail(1002)
        if op in (C.TEXT, C.BINARY):
            self.msg_op, self.msg = op, bytearray()
            self.decoder = codecs.getincrementaldecoder("utf-8")() if op == C.TEXT else None
        self.frame = [fin, op, n, key, 0, bytearray()]
        return True

    def payload(self):
        fin, op, n, key, done, data = self.frame
        take = min(n - done, len(self.buf))
        chunk = bytes(self.buf[:take])
        del self.buf[:take]
        if key:
            phase = done % 4
            chunk = wsfuzz.xor_mask(chunk, (key * 2)[phase:phase + 4])
        self.frame[4] = done + take
        if op < 8:
            self.msg += chunk
            if self.decoder and "late_utf8" not in self.flags:
                try:
                    self.decoder.decode(chunk)
                except UnicodeDecodeError:
                    self.fail(1002 if "wrong_code" in self.flags else 1007)
        else:
            data += chunk
        if self.frame[4] < n:
            return False
        self.frame = None
        if op == C.PING:
            if "no_pong" not in self.flags:
                self.send(C.PONG, bytes(data))
        elif op == C.CLOSE and "lax_close" in self.flags:
            self.send(C.CLOSE, bytes(data[:2]))
            self.write_pending()
            self.end()
        elif op == C.CLOSE:
            if len(data) == 1 or len(data) >= 2 and not wsfuzz.valid_close_code(int.from_bytes(data[:2], "big")):
                self.fail(1002)
            if len(data) >= 2 and not C.is_utf8(bytes(data[2:])):
                self.fail(1007)
            if self.role == "server" and "no_close_echo" in self.flags:
                self.sock.close()
                raise EOFError
            self.send(C.CLOSE, bytes(data[:2]))
            self.write_pending()
            self.end()
        elif op != C.PONG and fin:
            if self.msg_op == C.TEXT:
                try:
                    self.decoder.decode(b"", final=True) if "late_utf8" not in self.flags else bytes(self.msg).decode()
                except UnicodeDecodeError:
                    self.fail(1002 if "wrong_code" in self.flags else 1007)
            self.send(self.msg_op, bytes(self.msg))
            self.msg_op = None
        return True


# ---- Harness ---------------------------------------------------------------------------------

def serve_echo(flags):
    """An echo server on a free port in a thread; returns the port."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)

    def loop():
        while True:
            sock, _ = lsock.accept()
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                _, _, rest = wsfuzz.server_accept(sock)
            except (wsfuzz.HandshakeError, OSError):
                sock.close()
                continue
            threading.Thread(target=EchoPeer(sock, "server", rest, flags).run, daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return lsock.getsockname()[1]


def testee_client(port, flags, agent="selftest"):
    """The Autobahn testee-client protocol, with an EchoPeer per case."""
    def connect(path):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rest = wsfuzz.client_handshake(sock, "127.0.0.1:%d" % port, path)
        return sock, rest

    sock, rest = connect("/getCaseCount")
    conn = wsfuzz.Conn(sock, "client", rest)
    while not conn.received and not conn.tcp_closed:
        conn.pump(0.1)
    count = int(conn.received[0][1])
    conn.send_close(1000)
    while not conn.tcp_closed:
        conn.pump(0.1)
    for n in range(1, count + 1):
        sock, rest = connect("/runCase?case=%d&agent=%s" % (n, agent))
        EchoPeer(sock, "client", rest, flags).run()
    sock, rest = connect("/updateReports?agent=%s" % agent)
    conn = wsfuzz.Conn(sock, "client", rest)
    while not conn.tcp_closed:
        conn.pump(0.1)
        if conn.close_received and not conn.close_sent:
            conn.send_close(1000)


# (flags, case id, verdict the fuzzer must give)
CHECKS = [
    ((), "1.1.8", C.OK), ((), "2.11", C.OK), ((), "3.2", C.OK), ((), "5.19", C.OK), ((), "6.4.1", C.OK),
    ((), "6.4.4", C.OK), ((), "6.3.2", C.OK), ((), "7.1.5", C.OK), ((), "7.3.2", C.OK), ((), "9.3.1", C.OK),
    ((), "9.7.2", C.OK), ((), "11.1.1", C.OK), ((), "7.13.1", C.INFORMATIONAL),
    (("late_utf8",), "6.4.1", C.NON_STRICT), (("late_utf8",), "6.4.3", C.NON_STRICT), (("late_utf8",), "6.3.1", C.OK),
    (("drop_queued",), "3.2", C.NON_STRICT), (("drop_queued",), "4.1.3", C.NON_STRICT),
    (("wrong_code",), "6.3.1", C.FAILED), (("wrong_code",), "6.4.2", C.FAILED),
    (("ignore_rsv",), "3.1", C.FAILED), (("no_pong",), "2.10", C.FAILED), (("no_pong",), "5.6", C.FAILED),
    (("lenient_mask",), "11.1.1", C.FAILED), (("lax_close",), "7.9.1", C.FAILED), (("lax_close",), "7.5.1", C.FAILED),
    (("lax_close",), "7.7.1", C.OK),
]
CLIENT_ONLY = [
    (("no_drop",), "1.1.1", C.FAILED),            # the fuzzer had to drop TCP: UNCLEAN, as in Autobahn
    (("no_close_echo",), "7.3.3", C.FAILED),      # no close answer: not a clean close
]


def main():
    verbose = "-v" in sys.argv
    all_cases = {c.id: c for c in C.all_cases()}
    t0 = time.monotonic()
    outcomes = []  # (where, flags, case id, wanted verdict, record)

    def client_check(flags, cid, want, port):
        rec = fuzzingclient.run_one(all_cases[cid], "127.0.0.1", port, "/", 30)
        outcomes.append(("client", flags, cid, want, rec))

    def server_check(flags, items):
        args = types.SimpleNamespace(host="127.0.0.1", port=0, cases=",".join(cid for cid, _ in items), exclude=None,
                                     timeout=30, report=None, once=True, idle_timeout=20, verbose=False, quiet=True)
        server = fuzzingserver.Server(args)
        port = server.listen()
        loop = threading.Thread(target=server.loop, daemon=True)
        loop.start()
        testee_client(port, flags)
        loop.join(60)
        results = server.results.get("selftest", {})
        for cid, want in items:
            rec = results.get(cid, {"verdict": "MISSING", "id": cid, "result": "not run", "result_close": ""})
            outcomes.append(("server", flags, cid, want, rec))

    # Every check runs in a thread of its own, on connections of its own.
    ports, threads, groups = {}, [], {}
    for flags, cid, want in CHECKS + CLIENT_ONLY:
        if flags not in ports:
            ports[flags] = serve_echo(flags)
        threads.append(threading.Thread(target=client_check, args=(flags, cid, want, ports[flags])))
    for flags, cid, want in CHECKS:
        groups.setdefault(flags, []).append((cid, want))
    for flags, items in groups.items():
        threads.append(threading.Thread(target=server_check, args=(flags, items)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)

    failures = 0
    for where, flags, cid, want, rec in sorted(outcomes, key=lambda o: (o[0], o[1], o[2])):
        good = rec["verdict"] == want
        failures += not good
        if verbose or not good:
            print("%s %-7s %-14s %-7s want %-13s got %-13s %s" % (
                "ok  " if good else "FAIL", where, ",".join(flags) or "(good peer)", cid, want, rec["verdict"],
                "" if good else wsfuzz.miss_line(rec)))
    total = 2 * len(CHECKS) + len(CLIENT_ONLY)
    missing = total - len(outcomes)
    print("selftest: %d of %d verdicts as expected (%.1f s)" % (total - failures - missing, total, time.monotonic() - t0))
    return 1 if failures or missing else 0


if __name__ == "__main__":
    sys.exit(main())

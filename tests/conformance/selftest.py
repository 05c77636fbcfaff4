#!/usr/bin/env python3
"""Tests of the tester: runs chosen cases of fuzzingclient.py and fuzzingserver.py against a
small Python echo peer that can be told to misbehave in specific ways, and checks that each
misbehaviour gets the verdict Autobahn gives it (and that the well-behaved peer gets OK).

    selftest.py [-v] [--deflate-all]

Exits 0 if every expectation holds. The checks run in parallel: a few seconds. --deflate-all
also runs every case of categories 12 and 13 (permessage-deflate) against the well-behaved peer,
both ways (many minutes).
"""

import codecs
import os
import select
import socket
import sys
import threading
import time
import types
import zlib

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

    permessage-deflate (RFC 7692), its own small implementation (independent of wsfuzz's),
    negotiated by serve_echo and testee_client (see negotiate_as_server, offer_as_client) and
    given as `pmd`: {"send_nct", "send_bits", "recv_nct", "recv_bits"}. It echoes compressed
    (context takeover unless agreed otherwise), and inflates strictly: with the agreed window,
    and a new inflater per message if the fuzzer agreed not to take over context. Flags:

      deflate_decline         do not agree on the extension
      deflate_bad_answer      as a server, leave the offer's server_no_context_takeover and
                              server_max_window_bits out of the answer (an invalid answer)
      deflate_bad_offer       as a client, offer server_max_window_bits=16 (an invalid offer)
      deflate_request_client  as a server, answer client_no_context_takeover and
                              client_max_window_bits=8 (the fuzzer's compressor must comply)
      deflate_offer_small     as a client, offer server_no_context_takeover and
                              server_max_window_bits=8 (the fuzzer's compressor must comply)
      deflate_plain_offer     as a client, offer permessage-deflate without parameters
      deflate_uncompressed    echo without compressing (RSV1 clear): allowed
      deflate_bfinal          end every message with a final block (BFINAL): allowed
      deflate_frag            echo the compressed payload in frames of 100 octets
      deflate_rsv1_cont       ... and set RSV1 on the continuation frames too
      deflate_ignore_nct      take over context although no_context_takeover was agreed
      deflate_big_window      compress with a window of 2^15 whatever was agreed
      deflate_corrupt         send a stream that does not inflate (a reserved block type)
      deflate_no_strip        leave 00 00 ff ff at the end of each compressed message
      deflate_reset_inflater  inflate each message with a new inflater although the fuzzer
                              takes over context
    """

    def __init__(self, sock, role, leftover=b"", flags=(), pmd=None):
        self.sock, self.role, self.flags = sock, role, set(flags)
        self.pmd = pmd
        self.compressor = self.inflater = None
        self.msg_compressed = False
        self.buf = bytearray(leftover)
        self.pending = []          # echoes queued during this read
        self.msg_op = None
        self.msg = bytearray()
        self.decoder = None
        self.frame = None          # [fin, op, length, key, consumed]
        self.closing = False

    def send(self, op, payload=b"", fin=True, rsv=0):
        key = os.urandom(4) if self.role == "client" else None
        self.pending.append(wsfuzz.build_frame(op, payload, fin, rsv, key))

    def send_message(self, op, data):
        f, p = self.flags, self.pmd
        if p is None or "deflate_uncompressed" in f:
            return self.send(op, data)
        bits = 15 if "deflate_big_window" in f else max(9, p["send_bits"])  # zlib's 2^9 fits a 2^8 window
        if "deflate_bfinal" in f:
            c = zlib.compressobj(6, zlib.DEFLATED, -bits)
            z = c.compress(data) + c.flush(zlib.Z_FINISH)
        else:
            if self.compressor is None or (p["send_nct"] and "deflate_ignore_nct" not in f):
                self.compressor = zlib.compressobj(6, zlib.DEFLATED, -bits)
            z = self.compressor.compress(data) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
            if "deflate_no_strip" not in f:
                z = z[:-4]
        if "deflate_corrupt" in f:
            z = b"\xff" + z[1:]  # BFINAL 1, BTYPE 11: reserved
        size = 100 if f & {"deflate_frag", "deflate_rsv1_cont"} else len(z) or 1
        pieces = [z[i:i + size] for i in range(0, len(z), size)] or [b""]
        for i, piece in enumerate(pieces):
            self.send(op if i == 0 else C.CONT, piece, fin=i == len(pieces) - 1,
                      rsv=4 if i == 0 or "deflate_rsv1_cont" in f else 0)

    def inflate(self, data):
        p = self.pmd
        if self.inflater is None or p["recv_nct"] or "deflate_reset_inflater" in self.flags:
            self.inflater = zlib.decompressobj(-p["recv_bits"])
        data += b"\x00\x00\xff\xff"
        if p["recv_bits"] >= 15:
            return self.inflater.decompress(data)
        # zlib checks distances against the window plus this call's output: small steps keep
        # the check close to the agreed window.
        out = [self.inflater.decompress(data, 64)]
        while self.inflater.unconsumed_tail:
            out.append(self.inflater.decompress(self.inflater.unconsumed_tail, 64))
        return b"".join(out)

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
        compressed = rsv == 4 and self.pmd is not None and op in (C.TEXT, C.BINARY)
        if rsv and not compressed and "ignore_rsv" not in self.flags:
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
            self.msg_compressed = compressed
            self.decoder = codecs.getincrementaldecoder("utf-8")() if op == C.TEXT and not compressed else None
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
            data = bytes(self.msg)
            if self.msg_compressed:
                try:
                    data = self.inflate(data)
                except zlib.error:
                    self.fail(1007)
                if self.msg_op == C.TEXT and not C.is_utf8(data):
                    self.fail(1007)
            elif self.msg_op == C.TEXT:
                try:
                    self.decoder.decode(b"", final=True) if "late_utf8" not in self.flags else data.decode()
                except UnicodeDecodeError:
                    self.fail(1002 if "wrong_code" in self.flags else 1007)
            self.send_message(self.msg_op, data)
            self.msg_op = None
        return True


# ---- permessage-deflate negotiation of the peer ----------------------------------------------

def parse_pmd(values):
    """The permessage-deflate elements of Sec-WebSocket-Extensions values: [{param: value}]."""
    out = []
    for element in ",".join(values).split(","):
        parts = [x.strip() for x in element.split(";")]
        if parts[0].lower() == "permessage-deflate":
            params = {}
            for x in parts[1:]:
                name, _, value = x.partition("=")
                params[name.strip().lower()] = value.strip().strip('"') or True
            out.append(params)
    return out


def negotiate_as_server(flags, values):
    """-> (answer or None, pmd or None): accepts the first permessage-deflate offer."""
    offers = parse_pmd(values)
    if not offers or "deflate_decline" in flags:
        return None, None
    o, parts = offers[0], ["permessage-deflate"]
    pmd = {"send_nct": False, "send_bits": 15, "recv_nct": False, "recv_bits": 15}
    if "deflate_bad_answer" not in flags:
        if "server_no_context_takeover" in o:
            parts.append("server_no_context_takeover")
            pmd["send_nct"] = True
        if "server_max_window_bits" in o:
            parts.append("server_max_window_bits=%s" % o["server_max_window_bits"])
            pmd["send_bits"] = int(o["server_max_window_bits"])
    if "deflate_request_client" in flags and "client_max_window_bits" in o:
        parts += ["client_no_context_takeover", "client_max_window_bits=8"]
        pmd["recv_nct"], pmd["recv_bits"] = True, 8
    return "; ".join(parts), pmd


def offer_as_client(flags):
    if "deflate_decline" in flags:
        return None
    if "deflate_bad_offer" in flags:
        return "permessage-deflate; server_max_window_bits=16"
    if "deflate_plain_offer" in flags:
        return "permessage-deflate"
    offer = "permessage-deflate; client_no_context_takeover; client_max_window_bits"
    if "deflate_offer_small" in flags:
        offer += "; server_no_context_takeover; server_max_window_bits=8"
    return offer


def agreed_as_client(values):
    answers = parse_pmd(values)
    if not answers:
        return None
    a = answers[0]
    return {"send_nct": "client_no_context_takeover" in a, "send_bits": int(a.get("client_max_window_bits", 15)),
            "recv_nct": "server_no_context_takeover" in a, "recv_bits": int(a.get("server_max_window_bits", 15))}


# ---- Harness ---------------------------------------------------------------------------------

def serve_echo(flags):
    """An echo server on a free port in a thread; returns the port."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)

    def loop():
        while True:
            sock, _ = lsock.accept()
            agreed = {}

            def negotiate(path, query, values):
                answer, agreed["pmd"] = negotiate_as_server(flags, values)
                return answer

            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                _, _, rest = wsfuzz.server_accept(sock, negotiate)
            except (wsfuzz.HandshakeError, OSError):
                sock.close()
                continue
            threading.Thread(target=EchoPeer(sock, "server", rest, flags, agreed.get("pmd")).run, daemon=True).start()

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
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            rest, answer = wsfuzz.client_handshake_ext(sock, "127.0.0.1:%d" % port, "/runCase?case=%d&agent=%s" % (n, agent),
                                                       offer_as_client(flags))
        except (wsfuzz.HandshakeError, OSError):
            sock.close()
            continue
        EchoPeer(sock, "client", rest, flags, agreed_as_client(answer)).run()
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
    # permessage-deflate (categories 12 and 13). The well-behaved peer, on each payload kind,
    # each parameter set, and fragmented sends:
    ((), "12.1.1", C.OK), ((), "12.2.11", C.OK), ((), "12.3.4", C.OK), ((), "12.4.2", C.OK), ((), "12.5.3", C.OK),
    ((), "13.1.4", C.OK), ((), "13.2.4", C.OK), ((), "13.3.4", C.OK), ((), "13.4.3", C.OK), ((), "13.5.4", C.OK),
    ((), "13.6.3", C.OK), ((), "13.7.4", C.OK),
    # allowed: fragmented echoes, uncompressed echoes, messages ending with a final block
    (("deflate_frag",), "12.1.4", C.OK), (("deflate_uncompressed",), "12.1.4", C.OK),
    (("deflate_bfinal",), "12.1.4", C.OK), (("deflate_bfinal",), "13.2.4", C.OK),
    # the bugs, each where it shows and where it is harmless
    (("deflate_rsv1_cont",), "12.1.4", C.FAILED), (("deflate_corrupt",), "12.1.1", C.FAILED),
    (("deflate_no_strip",), "12.1.4", C.FAILED), (("deflate_reset_inflater",), "12.1.4", C.FAILED),
    (("deflate_ignore_nct",), "13.2.4", C.FAILED), (("deflate_ignore_nct",), "12.1.4", C.OK),
    (("deflate_big_window",), "13.3.4", C.FAILED), (("deflate_big_window",), "13.5.4", C.FAILED),
    (("deflate_big_window",), "12.1.4", C.OK),
    (("deflate_decline",), "12.1.1", C.UNIMPLEMENTED), (("deflate_decline",), "13.7.1", C.UNIMPLEMENTED),
]
CLIENT_ONLY = [
    (("no_drop",), "1.1.1", C.FAILED),            # the fuzzer had to drop TCP: UNCLEAN, as in Autobahn
    (("no_close_echo",), "7.3.3", C.FAILED),      # no close answer: not a clean close
    (("deflate_bad_answer",), "13.2.4", C.FAILED),  # server_no_context_takeover offered, left out
    (("deflate_bad_answer",), "13.3.4", C.FAILED),  # server_max_window_bits=8 offered, left out
    (("deflate_bad_answer",), "12.1.1", C.OK),      # nothing to leave out
    (("deflate_request_client",), "12.1.4", C.OK),  # our compressor: no context takeover, window 2^8
    (("deflate_request_client",), "13.5.4", C.OK),
]
SERVER_ONLY = [
    (("deflate_bad_offer",), "12.1.1", C.FAILED),    # server_max_window_bits=16
    (("deflate_offer_small",), "12.1.4", C.OK),      # our compressor: no context takeover, window 2^8
    (("deflate_offer_small",), "13.4.4", C.OK),
    (("deflate_plain_offer",), "12.1.1", C.OK),
    (("deflate_plain_offer",), "13.2.1", C.OK),             # client_no_context_takeover needs no offer
    (("deflate_plain_offer",), "13.3.1", C.UNIMPLEMENTED),  # no client_max_window_bits to answer
    (("deflate_plain_offer",), "13.7.1", C.OK),             # falls back to 13.2's acceptance
]


def main():
    verbose = "-v" in sys.argv
    deflate_all = "--deflate-all" in sys.argv
    all_cases = {c.id: c for c in C.all_cases()}
    t0 = time.monotonic()
    outcomes = []  # (where, flags, case id, wanted verdict, record)
    cap = None if deflate_all else 30  # the cases' own limits (up to 488 s) when running them all

    checks, client_only, server_only = list(CHECKS), list(CLIENT_ONLY), list(SERVER_ONLY)
    if deflate_all:
        everything = [((), c.id, C.OK) for c in C.all_cases() if c.category in C.DEFLATE_CATEGORIES]
        checks = [ch for ch in checks if ch not in everything] + everything

    def client_check(flags, items, port):
        for cid, want in items:
            rec = fuzzingclient.run_one(all_cases[cid], "127.0.0.1", port, "/", cap)
            outcomes.append(("client", flags, cid, want, rec))

    def server_check(flags, items):
        args = types.SimpleNamespace(host="127.0.0.1", port=0, cases=",".join(cid for cid, _ in items), exclude=None,
                                     timeout=cap, report=None, once=True, idle_timeout=20, verbose=False, quiet=True)
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

    # Every check runs in a thread of its own, on connections of its own; with --deflate-all,
    # the whole of categories 12 and 13 runs in one thread per direction.
    ports, threads, groups = {}, [], {}
    for flags, cid, want in checks + client_only:
        if flags not in ports:
            ports[flags] = serve_echo(flags)
    for flags, cid, want in checks + client_only:
        if not (deflate_all and flags == ()):
            threads.append(threading.Thread(target=client_check, args=(flags, [(cid, want)], ports[flags])))
    if deflate_all:
        good = [(cid, want) for flags, cid, want in checks if flags == ()]
        threads.append(threading.Thread(target=client_check, args=((), good, ports[()])))
    for flags, cid, want in checks + server_only:
        groups.setdefault(flags, []).append((cid, want))
    for flags, items in groups.items():
        threads.append(threading.Thread(target=server_check, args=(flags, items)))
    for t in threads:
        t.start()
    end = time.monotonic() + (4 * 3600 if deflate_all else 120)
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))

    failures = 0
    for where, flags, cid, want, rec in sorted(outcomes, key=lambda o: (o[0], o[1], o[2])):
        good = rec["verdict"] == want
        failures += not good
        if verbose or not good:
            print("%s %-7s %-14s %-7s want %-13s got %-13s %s" % (
                "ok  " if good else "FAIL", where, ",".join(flags) or "(good peer)", cid, want, rec["verdict"],
                "" if good else wsfuzz.miss_line(rec)))
    total = 2 * len(checks) + len(client_only) + len(server_only)
    missing = total - len(outcomes)
    print("selftest: %d of %d verdicts as expected (%.1f s)" % (total - failures - missing, total, time.monotonic() - t0))
    return 1 if failures or missing else 0


if __name__ == "__main__":
    sys.exit(main())

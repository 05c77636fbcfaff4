#!/usr/bin/env python3
"""Fuzzing server: judges WebSocket clients on the Autobahn|Testsuite case categories, speaking
the Autobahn testee-client protocol.

    fuzzingserver.py --port P [--host 127.0.0.1] [--cases 1.*,6.4.*] [--exclude ...] [--deflate]
                     [--timeout S] [--report FILE.json] [--once] [--idle-timeout S]

A testee client connects to
    /getCaseCount                  one text message with the number of cases, then a close
    /runCase?case=N&agent=NAME     case N (1-based) with the roles reversed: this server sends
                                   the case's frames, unmasked, and judges how the client
                                   echoes and closes
    /updateReports?agent=NAME      writes the JSON report (--report) and prints the summary

Prints "fuzzingserver listening on HOST:PORT (N cases)" once listening (--port 0 picks a free
port). With --once it exits after the first /updateReports: 0 if every case ran and is OK or
INFORMATIONAL, 1 otherwise. Without a connection for --idle-timeout seconds, or on SIGTERM, it
writes what it has and exits 1 (cases never run count as FAILED). Connections are served one at a time, as the testee protocol runs them.

The permessage-deflate categories 12 and 13 run when --cases names them, or with --deflate (then
the default selection is every case). In them the server answers the client's offers as the
case says (cases.Deflate); an invalid offer refuses the handshake and fails the case.
"""

import argparse
import os
import signal
import socket
import sys
import threading
import time

import cases as C
import wsfuzz


class Terminated(Exception):
    pass


def _terminate(signum, frame):
    raise Terminated()


class Server:
    def __init__(self, args):
        self.args = args
        self.selected = C.select(C.all_cases(), args.cases, args.exclude, getattr(args, "deflate", False))
        self.results = {}  # agent -> {case id: record}
        self.started = time.time()
        self.t0 = time.monotonic()

    def say(self, text):
        if not getattr(self.args, "quiet", False):
            print(text, flush=True)

    def listen(self):
        """Binds and listens; returns the port."""
        args = self.args
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((args.host, args.port))
        self.lsock.listen(16)
        self.lsock.settimeout(args.idle_timeout)
        return self.lsock.getsockname()[1]

    def loop(self):
        """Serves connections one at a time; returns the exit status."""
        try:
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, _terminate)
            while True:
                try:
                    sock, _ = self.lsock.accept()
                except socket.timeout:
                    self.say("fuzzingserver: no connection for %.0f s; giving up" % self.args.idle_timeout)
                    self.report(None)
                    return 1
                status = self.handle(sock)
                if status is not None:
                    return status
        except Terminated:
            self.say("fuzzingserver: terminated before /updateReports")
            self.report(None)
            return 1
        finally:
            self.lsock.close()

    def serve(self):
        port = self.listen()
        print("fuzzingserver listening on %s:%d (%d cases)" % (self.args.host, port, len(self.selected)), flush=True)
        return self.loop()

    def case_for(self, query):
        try:
            n = int(query.get("case", ""))
        except ValueError:
            return None
        return self.selected[n - 1] if 1 <= n <= len(self.selected) else None

    def handle(self, sock):
        state = {}

        def negotiate(path, query, offers):
            # permessage-deflate, in the cases that negotiate it (categories 12 and 13).
            case = self.case_for(query) if path == "/runCase" else None
            if case is None or case.deflate is None:
                return None
            state["case"], state["agent"] = case, query.get("agent", "unknown")
            try:
                answer, state["params"], state["why"] = wsfuzz.server_agree(case.deflate.accept, offers)
            except wsfuzz.ExtensionError as e:
                raise wsfuzz.ExtensionError("the client's offer %r is invalid: %s" % (", ".join(offers), e))
            return answer

        try:
            path, query, leftover = wsfuzz.server_accept(sock, negotiate)
        except (wsfuzz.HandshakeError, OSError) as e:
            self.say("fuzzingserver: refused a connection: %s" % e)
            sock.close()
            if "case" in state:
                case, agent = state["case"], state["agent"]
                rec = wsfuzz.failed_record(case, "opening handshake failed: %s" % e, agent)
                self.results.setdefault(agent, {})[case.id] = rec
                self.say(wsfuzz.miss_line(rec))
            return None
        agent = query.get("agent", "unknown")
        if path == "/getCaseCount":
            self.control(sock, leftover, message=str(len(self.selected)).encode())
        elif path == "/runCase":
            try:
                n = int(query.get("case", ""))
                if not 1 <= n <= len(self.selected):
                    raise ValueError
                case = self.selected[n - 1]
            except ValueError:
                self.say("fuzzingserver: bad case number %r" % query.get("case"))
                self.control(sock, leftover, code=1008)
                return None
            conn = wsfuzz.Conn(sock, "server", leftover)
            if state.get("params") is not None:
                conn.deflate = wsfuzz.PerMessageDeflate(state["params"])
            conn.deflate_note = state.get("why")
            runner = wsfuzz.Runner(case, conn, self.args.timeout).run()
            rec = wsfuzz.result_record(case, runner, agent)
            self.results.setdefault(agent, {})[case.id] = rec
            if self.args.verbose:
                self.say("%-13s %-8s %7.1f ms" % (rec["verdict"], rec["id"], rec["duration_ms"]))
            if rec["verdict"] not in (C.OK, C.INFORMATIONAL):
                self.say(wsfuzz.miss_line(rec))
        elif path == "/updateReports":
            self.control(sock, leftover)
            ok = self.report(agent if agent in self.results else None)
            if self.args.once:
                return 0 if ok else 1
        else:
            self.control(sock, leftover, code=1008)
        return None

    def control(self, sock, leftover, message=None, code=1000):
        """A short control connection: optionally one text message, then a close."""
        conn = wsfuzz.Conn(sock, "server", leftover)
        conn.deadline = time.monotonic() + 5
        if message is not None:
            conn.queue(conn.encode(C.TEXT, message))
        conn.send_close(code)
        end = time.monotonic() + wsfuzz.CLOSE_TIMEOUT + wsfuzz.DROP_TIMEOUT
        while not conn.tcp_closed and time.monotonic() < end:
            conn.pump(0.05)
            if conn.handshake_done_at and time.monotonic() - conn.handshake_done_at > wsfuzz.DROP_TIMEOUT:
                break
        conn.abort()

    def report(self, agent):
        """Prints the summary for `agent` (or every agent) and writes the report; returns
        whether every selected case ran and is OK or INFORMATIONAL, for every agent."""
        agents = [agent] if agent else sorted(self.results) or ["(none)"]
        seconds = time.monotonic() - self.t0
        ok = True
        for a in agents:
            records = sorted(self.results.get(a, {}).values(), key=lambda r: tuple(int(x) for x in r["id"].split(".")))
            out = open(os.devnull, "w") if getattr(self.args, "quiet", False) else sys.stdout
            ok = wsfuzz.print_summary(records, self.selected, "Summary: client %s (fuzzingserver)" % a, out=out,
                                      seconds=seconds) and ok
        if self.args.report:
            records = [r for a in sorted(self.results) for r in
                       sorted(self.results[a].values(), key=lambda r: tuple(int(x) for x in r["id"].split(".")))]
            wsfuzz.write_report(self.args.report, records, self.selected,
                                {"tool": "duplex tests/conformance/fuzzingserver.py", "mode": "fuzzingserver",
                                 "agents": sorted(self.results),
                                 "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
                                 "wall_seconds": round(seconds, 2)})
        return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True, help="port to listen on (0: any free port)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--cases", help="comma-separated case ids or patterns, e.g. 1.*,6.4.* (default: all)")
    ap.add_argument("--exclude", help="comma-separated case ids or patterns to skip")
    ap.add_argument("--deflate", action="store_true",
                    help="include the permessage-deflate categories 12 and 13 in the default selection")
    ap.add_argument("--timeout", type=float, help="upper bound in seconds on each case")
    ap.add_argument("--report", help="write the JSON report here on /updateReports")
    ap.add_argument("--once", action="store_true", help="exit after the first /updateReports")
    ap.add_argument("--idle-timeout", type=float, default=60.0, help="exit 1 after this long without a connection")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every case as it finishes")
    args = ap.parse_args()
    server = Server(args)
    if not server.selected:
        ap.error("no case matches --cases/--exclude")
    return server.serve()


if __name__ == "__main__":
    sys.exit(main())

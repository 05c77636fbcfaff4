#!/usr/bin/env python3
"""Fuzzing client: runs the Autobahn|Testsuite case categories against a WebSocket server.

    fuzzingclient.py ws://127.0.0.1:PORT[/path] [--cases 1.*,6.4.*] [--exclude 9.*] [--deflate]
                     [--timeout S] [--report FILE.json] [--agent NAME] [-v]

Each case runs on a new connection with its own opening handshake and time limit (the case's
own, or --timeout seconds if smaller). Prints one line per case that is not OK or
INFORMATIONAL, a summary per category with the timings of category 9, and writes a JSON
report. The permessage-deflate categories 12 and 13 run when --cases names them, or with
--deflate (then the default selection is every case). Exits 0 if every case is OK or INFORMATIONAL, 1 otherwise, 2 on bad usage.
"""

import argparse
import socket
import sys
import time
import urllib.parse

import cases as C
import wsfuzz


def run_one(case, host, port, path, cap):
    try:
        sock = socket.create_connection((host, port), timeout=wsfuzz.HANDSHAKE_TIMEOUT)
    except OSError as e:
        return wsfuzz.failed_record(case, "cannot connect: %s" % e)
    params, why = None, None
    try:
        if case.deflate is None:
            leftover = wsfuzz.client_handshake(sock, "%s:%d" % (host, port), path)
        else:
            leftover, answer = wsfuzz.client_handshake_ext(sock, "%s:%d" % (host, port), path,
                                                           wsfuzz.offer_header(case.deflate.offers))
            params, why = wsfuzz.client_agree(case.deflate.offers, answer)
    except (wsfuzz.HandshakeError, OSError) as e:
        sock.close()
        return wsfuzz.failed_record(case, "opening handshake failed: %s" % e)
    conn = wsfuzz.Conn(sock, "client", leftover)
    if params is not None:
        conn.deflate = wsfuzz.PerMessageDeflate(params)
    conn.deflate_note = why
    runner = wsfuzz.Runner(case, conn, cap)
    runner.run()
    return wsfuzz.result_record(case, runner)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url", help="ws://HOST:PORT[/path] of the server to test")
    ap.add_argument("--cases", help="comma-separated case ids or patterns, e.g. 1.*,6.4.* (default: all)")
    ap.add_argument("--exclude", help="comma-separated case ids or patterns to skip")
    ap.add_argument("--deflate", action="store_true",
                    help="include the permessage-deflate categories 12 and 13 in the default selection")
    ap.add_argument("--timeout", type=float, help="upper bound in seconds on each case")
    ap.add_argument("--report", help="write the JSON report here")
    ap.add_argument("--agent", default="server", help="name of the server under test, for the report")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every case as it finishes")
    args = ap.parse_args()

    url = urllib.parse.urlsplit(args.url)
    if url.scheme != "ws" or not url.hostname:
        ap.error("only ws://host:port URLs are supported")
    port = url.port or 80
    path = url.path or "/"
    if url.query:
        path += "?" + url.query

    selected = C.select(C.all_cases(), args.cases, args.exclude, args.deflate)
    if not selected:
        ap.error("no case matches --cases/--exclude")

    started = time.time()
    t0 = time.monotonic()
    records = []
    print("fuzzingclient: %d cases against %s" % (len(selected), args.url), flush=True)
    for case in selected:
        rec = run_one(case, url.hostname, port, path, args.timeout)
        records.append(rec)
        if args.verbose:
            print("%-13s %-8s %7.1f ms" % (rec["verdict"], rec["id"], rec["duration_ms"]), flush=True)
        if rec["verdict"] not in (C.OK, C.INFORMATIONAL):
            print(wsfuzz.miss_line(rec), flush=True)
    seconds = time.monotonic() - t0

    ok = wsfuzz.print_summary(records, selected, "Summary: %s (fuzzingclient, server under test: %s)" % (args.url, args.agent),
                              seconds=seconds)
    if args.report:
        wsfuzz.write_report(args.report, records, selected,
                            {"tool": "duplex tests/conformance/fuzzingclient.py", "mode": "fuzzingclient",
                             "target": args.url, "agent": args.agent,
                             "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                             "wall_seconds": round(seconds, 2)})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

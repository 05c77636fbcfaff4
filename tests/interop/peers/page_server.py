#!/usr/bin/python3
"""A tiny HTTP server for the Chromium check in run.sh.

    /usr/bin/python3 page_server.py DIRECTORY

Prints "listening on 127.0.0.1:PORT" (a free port), then serves the files in DIRECTORY, plus:

    /hold?run=ID     answers only once /release?run=ID has been requested (or after 60 s):
                     the page holds its load event open with an image from it while its
                     WebSocket checks run, so that chromium --dump-dom, which dumps the DOM at
                     the load event, sees the result;
    /release?run=ID  lets /hold?run=ID answer; the page requests it once its result is in the
                     DOM. Either may come first.

Each request is logged to standard error. Stops on SIGTERM.
"""
import functools
import http.server
import signal
import sys
import threading
import urllib.parse

lock = threading.Lock()
released = {}  # run id -> threading.Event


def release_event(query):
    run = urllib.parse.parse_qs(query).get("run", ["default"])[0]
    with lock:
        return released.setdefault(run, threading.Event())


# A 1x1 transparent GIF, so that the held image loads without an error.
GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c000000000100010000020144003b")


class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path == "/hold":
            release_event(query).wait(60)
            self.reply(200, "image/gif", GIF)
        elif path == "/release":
            release_event(query).set()
            self.reply(200, "text/plain", b"released\n")
        elif path == "/favicon.ico":
            self.reply(204, "image/gif", b"")
        else:
            super().do_GET()

    def reply(self, status, kind, body):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


def main():
    if len(sys.argv) != 2:
        print("usage: page_server.py DIRECTORY", file=sys.stderr)
        sys.exit(2)
    handler = functools.partial(Handler, directory=sys.argv[1])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

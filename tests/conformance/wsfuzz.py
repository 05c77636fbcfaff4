"""The machinery shared by fuzzingclient.py and fuzzingserver.py: a frame builder, the opening
handshake on both sides, a raw-socket connection that records what the peer does, the runner
that plays a case's script on it, the judge, and the summary and JSON report.

Standard library only. Nothing here trusts the peer: every frame it sends is checked the way
RFC 6455 requires, and a peer that breaks a rule fails the case.
"""

import base64
import hashlib
import json
import os
import re
import select
import socket
import sys
import time
import urllib.parse
import zlib

import cases as C

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# Closing-column outcomes, as Autobahn names them.
WRONG_CODE = "WRONG CODE"
UNCLEAN = "UNCLEAN"
FAILED_BY_CLIENT = "FAILED BY CLIENT"

CLOSE_TIMEOUT = 2.0   # how long our close frame may stay unanswered
DROP_TIMEOUT = 2.0    # how long a server may take to drop TCP after the closing handshake
KILL_FLOOR = 2.0      # least time before we drop a connection nothing closed (see Runner.run)
HANDSHAKE_TIMEOUT = 5.0

RANK = {C.OK: 0, C.INFORMATIONAL: 1, C.NON_STRICT: 2, C.FAILED: 3, C.UNIMPLEMENTED: 3}


# ---- Frames ----------------------------------------------------------------------------------

def xor_mask(data, key):
    """data XOR the 4-octet key repeated (RFC 6455 §5.3); fast for large payloads."""
    n = len(data)
    if n == 0:
        return b""
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


def frame_header(op, length, fin=True, rsv=0, mask_key=None):
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (op & 0x0F)
    m = 0x80 if mask_key is not None else 0
    if length < 126:
        head = bytes((b0, m | length))
    elif length < 65536:
        head = bytes((b0, m | 126)) + length.to_bytes(2, "big")
    else:
        head = bytes((b0, m | 127)) + length.to_bytes(8, "big")
    return head + (mask_key or b"")


def build_frame(op, payload=b"", fin=True, rsv=0, mask_key=None):
    """One frame, unmasked, or masked with `mask_key` (4 octets)."""
    head = frame_header(op, len(payload), fin, rsv, mask_key)
    return head + (xor_mask(payload, mask_key) if mask_key is not None else payload)


def close_payload(code=None, reason=b""):
    return b"" if code is None else code.to_bytes(2, "big") + reason


def valid_close_code(code):
    """Codes a peer may put in a close frame (RFC 6455 §7.4.1 and the IANA registry)."""
    return code in (1000, 1001, 1002, 1003) or 1007 <= code <= 1014 or 3000 <= code <= 4999


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + GUID).digest()).decode("ascii")


# ---- Opening handshake -----------------------------------------------------------------------

class HandshakeError(Exception):
    pass


def _read_head(sock, deadline):
    data = b""
    while b"\r\n\r\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise HandshakeError("no complete HTTP head within %.0f s" % HANDSHAKE_TIMEOUT)
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            continue
        chunk = sock.recv(65536)
        if not chunk:
            raise HandshakeError("the connection closed during the opening handshake")
        data += chunk
        if len(data) > 65536:
            raise HandshakeError("HTTP head larger than 64 KiB")
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise HandshakeError("malformed header line %r" % line)
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return lines[0], headers, rest


def _tokens(headers, name):
    return [t.strip().lower() for v in headers.get(name, []) for t in v.split(",")]


def client_handshake(sock, host, path):
    """Sends the upgrade request, checks the 101 answer; returns the octets after it."""
    rest, extensions = client_handshake_ext(sock, host, path)
    if extensions:
        raise HandshakeError("the server chose an extension that was not offered")
    return rest


def client_handshake_ext(sock, host, path, offer=None):
    """Sends the upgrade request, with Sec-WebSocket-Extensions: `offer` if given, checks the
    101 answer; returns the octets after it and the answer's Sec-WebSocket-Extensions values."""
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    request = ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%sUser-Agent: duplex-fuzzingclient\r\n\r\n"
               % (path, host, key, "Sec-WebSocket-Extensions: %s\r\n" % offer if offer else ""))
    sock.sendall(request.encode("ascii"))
    status, headers, rest = _read_head(sock, time.monotonic() + HANDSHAKE_TIMEOUT)
    parts = status.split(" ", 2)
    if len(parts) < 2 or parts[1] != "101":
        raise HandshakeError("expected 101 Switching Protocols, got %r" % status)
    if "websocket" not in _tokens(headers, "upgrade"):
        raise HandshakeError("no Upgrade: websocket in the answer")
    if "upgrade" not in _tokens(headers, "connection"):
        raise HandshakeError("no Connection: upgrade in the answer")
    if headers.get("sec-websocket-accept") != [accept_key(key)]:
        raise HandshakeError("wrong Sec-WebSocket-Accept %r" % headers.get("sec-websocket-accept"))
    return rest, headers.get("sec-websocket-extensions", [])


def server_accept(sock, negotiate=None):
    """Reads an upgrade request and answers 101 (or an error status, raising).
    `negotiate(path, query, Sec-WebSocket-Extensions values)` may return the value of a
    Sec-WebSocket-Extensions answer, or raise ExtensionError to refuse the request (400).
    Returns (path, query dict, octets after the request)."""
    line, headers, rest = _read_head(sock, time.monotonic() + HANDSHAKE_TIMEOUT)

    def refuse(status, why):
        body = why.encode() + b"\n"
        sock.sendall(b"HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                     % (status.encode(), len(body)) + body)
        raise HandshakeError(why)

    parts = line.split(" ")
    if len(parts) != 3 or parts[0] != "GET" or parts[2] != "HTTP/1.1":
        refuse("400 Bad Request", "bad request line %r" % line)
    if "websocket" not in _tokens(headers, "upgrade") or "upgrade" not in _tokens(headers, "connection"):
        refuse("426 Upgrade Required", "not a WebSocket upgrade request")
    if headers.get("sec-websocket-version") != ["13"]:
        refuse("426 Upgrade Required", "Sec-WebSocket-Version is not 13")
    key = headers.get("sec-websocket-key", [""])
    try:
        if len(key) != 1 or len(base64.b64decode(key[0], validate=True)) != 16:
            raise ValueError
    except ValueError:
        refuse("400 Bad Request", "Sec-WebSocket-Key is not 16 octets in base64")
    if len(headers.get("host", [])) != 1:
        refuse("400 Bad Request", "exactly one Host header is required")
    url = urllib.parse.urlsplit(parts[1])
    query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
    extensions = None
    if negotiate is not None:
        try:
            extensions = negotiate(url.path, query, headers.get("sec-websocket-extensions", []))
        except ExtensionError as e:
            refuse("400 Bad Request", str(e))
    sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: %s\r\n%sServer: duplex-fuzzingserver\r\n\r\n"
                  % (accept_key(key[0]), "Sec-WebSocket-Extensions: %s\r\n" % extensions if extensions else "")
                  ).encode("ascii"))
    return url.path, query, rest


# ---- permessage-deflate (RFC 7692) -----------------------------------------------------------

PMD = "permessage-deflate"
TAIL = b"\x00\x00\xff\xff"  # what a sender strips from the end of a message and a receiver appends


class ExtensionError(HandshakeError):
    pass


class DeflateError(Exception):
    pass


_EXT_TOKEN = re.compile(r'[ \t]*(?:([!#$%&\'*+.^_`|~0-9A-Za-z-]+)|"((?:[^"\\]|\\.)*)"|([,;=]))[ \t]*')


def parse_extensions(values):
    """Sec-WebSocket-Extensions values (RFC 6455 §9.1) -> [(name, [(param, value or True)])],
    names and parameter names in lower case. Raises ExtensionError on bad syntax."""
    text = ",".join(values)
    items, pos = [], 0
    while pos < len(text):
        m = _EXT_TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExtensionError("malformed Sec-WebSocket-Extensions %r" % text)
        pos = m.end()
        if m.group(1) is not None:
            items.append(("token", m.group(1)))
        elif m.group(2) is not None:
            items.append(("quoted", re.sub(r"\\(.)", r"\1", m.group(2))))
        else:
            items.append((m.group(3), None))
    elements, i = [], 0

    def bad():
        raise ExtensionError("malformed Sec-WebSocket-Extensions %r" % text)

    while i < len(items):
        if items[i][0] == ",":
            i += 1
            continue
        if items[i][0] != "token":
            bad()
        name, params = items[i][1].lower(), []
        i += 1
        while i < len(items) and items[i][0] == ";":
            if i + 1 >= len(items) or items[i + 1][0] != "token":
                bad()
            pname, value = items[i + 1][1].lower(), True
            i += 2
            if i < len(items) and items[i][0] == "=":
                if i + 1 >= len(items) or items[i + 1][0] not in ("token", "quoted"):
                    bad()
                value = items[i + 1][1]
                i += 2
            params.append((pname, value))
        if i < len(items) and items[i][0] != ",":
            bad()
        elements.append((name, params))
    return elements


class PmdElement:
    """The parameters of one permessage-deflate offer or response: the two no_context_takeover
    flags, and the window sizes (None: absent; True: client_max_window_bits without a value,
    in an offer only; else 8-15)."""

    def __init__(self, params, response):
        self.snct = self.cnct = False
        self.smwb = self.cmwb = None
        seen = set()
        where = "answer" if response else "offer"
        for name, value in params:
            if name in seen:
                raise ExtensionError("permessage-deflate %s with the parameter %s twice" % (where, name))
            seen.add(name)
            if name in ("server_no_context_takeover", "client_no_context_takeover"):
                if value is not True:
                    raise ExtensionError("permessage-deflate %s: %s takes no value" % (where, name))
                setattr(self, name[0] + "nct", True)
            elif name in ("server_max_window_bits", "client_max_window_bits"):
                if value is True:
                    if response or name == "server_max_window_bits":
                        raise ExtensionError("permessage-deflate %s: %s needs a value" % (where, name))
                elif not re.fullmatch("[1-9][0-9]?", value) or not 8 <= int(value) <= 15:
                    raise ExtensionError("permessage-deflate %s: %s=%s is not 8 to 15" % (where, name, value))
                else:
                    value = int(value)
                setattr(self, name[0] + "mwb", value)
            else:
                raise ExtensionError("permessage-deflate %s with the unknown parameter %s" % (where, name))


class DeflateParams:
    """What was agreed, from our side: whether and with what window each direction compresses
    without context takeover. send_*: our messages; recv_*: the peer's."""

    def __init__(self, send_nct, send_bits, recv_nct, recv_bits, header):
        self.send_nct, self.send_bits = send_nct, send_bits
        self.recv_nct, self.recv_bits = recv_nct, recv_bits
        self.header = header

    def as_json(self):
        return {"agreed": self.header, "we_send": {"no_context_takeover": self.send_nct, "max_window_bits": self.send_bits},
                "peer_sends": {"no_context_takeover": self.recv_nct, "max_window_bits": self.recv_bits}}


def offer_header(offers):
    """Our offers as a client: Autobahn's PerMessageDeflateOffer for each (request
    no_context_takeover, request max_window_bits) pair."""
    out = []
    for nct, bits in offers:
        text = PMD + "; client_no_context_takeover; client_max_window_bits"
        if nct:
            text += "; server_no_context_takeover"
        if bits:
            text += "; server_max_window_bits=%d" % bits
        out.append(text)
    return ", ".join(out)


def client_agree(offers, values):
    """The server's Sec-WebSocket-Extensions `values` to our `offers` -> (DeflateParams or
    None, why none). Raises ExtensionError if the answer is invalid or fits none of the offers
    (RFC 7692 §5 and §7.1)."""
    if not values:
        return None, "the server's answer has no Sec-WebSocket-Extensions"
    elements = parse_extensions(values)
    if len(elements) != 1 or elements[0][0] != PMD:
        raise ExtensionError("the server answered Sec-WebSocket-Extensions %r; only one permessage-deflate was offered"
                             % ", ".join(values))
    r = PmdElement(elements[0][1], response=True)
    for nct, bits in offers:
        if nct and not r.snct:
            continue  # an offer with server_no_context_takeover is accepted only with it (§7.1.1.1)
        if bits and (r.smwb is None or r.smwb > bits):
            continue  # ... with server_max_window_bits=N, only with a value up to N (§7.1.2.1)
        # Every offer of ours has client_max_window_bits, so the answer may carry it.
        return DeflateParams(r.cnct, r.cmwb or 15, r.snct, r.smwb or 15, ", ".join(values)), None
    raise ExtensionError("the server's answer %r fits none of the offers %r" % (", ".join(values), offer_header(offers)))


def server_agree(accept, values):
    """Our answer as the server to the client's Sec-WebSocket-Extensions `values`, trying the
    case's `accept` pairs in order (see cases.Deflate) -> (answer or None, DeflateParams or
    None, why none). Raises ExtensionError on an invalid permessage-deflate offer."""
    offers = [PmdElement(params, response=False) for name, params in parse_extensions(values) if name == PMD]
    if not offers:
        return None, None, "the client offered no permessage-deflate"
    for req_nct, req_bits in accept:
        for o in offers:
            # client_max_window_bits may be answered only to an offer that has it (§7.1.2.2);
            # client_no_context_takeover to any offer (§7.1.1.2: "A server MAY include" it; the
            # offer's parameter is only a hint). Autobahn likewise: its PerMessageDeflateOffer
            # has accept_no_context_takeover True whatever the client sent.
            if req_bits and o.cmwb is None:
                continue
            parts = [PMD]
            if o.snct:
                parts.append("server_no_context_takeover")
            if o.smwb:
                parts.append("server_max_window_bits=%d" % o.smwb)
            if req_nct:
                parts.append("client_no_context_takeover")
            client_bits = o.cmwb if isinstance(o.cmwb, int) and o.cmwb is not True else 15
            if req_bits:
                # A client that gave client_max_window_bits a value will not use more (§7.1.2.2).
                client_bits = min(req_bits, client_bits)
                parts.append("client_max_window_bits=%d" % client_bits)
            header = "; ".join(parts)
            return header, DeflateParams(o.snct, o.smwb or 15, req_nct, client_bits, header), None
    return None, None, "no offer of the client fits this case's acceptance %s" % C._pairs(accept)


class PerMessageDeflate:
    """Compresses our messages and inflates the peer's, as agreed (RFC 7692 §7.2).

    Ours: raw DEFLATE, flushed with an empty stored block whose 4 last octets are stripped; one
    compressor for the whole connection, or a new one per message without context takeover. A
    window of 2^8 is compressed with zlib's 2^9 (zlib refuses 8 for raw DEFLATE), whose
    matches reach at most 250 octets back, so they fit in 256.

    The peer's: 00 00 ff ff appended, inflated with the agreed window (a peer that reaches
    further back fails with "invalid distance too far back"; see _inflate), with one inflater for the whole
    connection, or a new one per message if the peer agreed not to take over context (a peer
    that does reaches before the message's start and fails the same way). After the message,
    the inflater must stand at a block boundary (a final empty block must end the stream
    cleanly): otherwise the peer did not strip the tail or did not end the message with a
    flush. A message may end with a final (BFINAL) block (§7.2.3.3): the next one is then
    inflated by a new inflater that starts from the window of what came before."""

    def __init__(self, params):
        self.params = params
        self.compressor = None
        self.inflater = None
        self.window = b""         # the peer's last 2^bits octets, for after a final block
        self.sent = self.received = 0
        self.raw_out = self.wire_out = self.raw_in = self.wire_in = 0

    def compress(self, data):
        p = self.params
        if self.compressor is None or p.send_nct:
            self.compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -max(9, p.send_bits))
        out = self.compressor.compress(data) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(TAIL)
        self.sent += 1
        self.raw_out += len(data)
        self.wire_out += len(out) - 4
        return out[:-4]

    def inflate(self, data):
        p = self.params
        self.received += 1
        which = "compressed message %d of the peer" % self.received
        if self.inflater is None or p.recv_nct or self.inflater.eof:
            if p.recv_nct or not self.window:
                self.inflater = zlib.decompressobj(-p.recv_bits)
            else:
                self.inflater = zlib.decompressobj(-p.recv_bits, zdict=self.window)
        try:
            out = self._inflate(data + TAIL)
        except zlib.error as e:
            hint = ""
            if "too far back" in str(e):
                hint = (" (it refers further back than %s allows)" % (
                    "a window of 2^%d and no context takeover" % p.recv_bits if p.recv_nct else
                    "the window of 2^%d" % p.recv_bits))
            raise DeflateError("%s does not inflate: %s%s" % (which, e, hint))
        if self.inflater.eof:
            if self.inflater.unused_data not in (b"", TAIL):
                raise DeflateError("%s has %d octets after its final DEFLATE block"
                                   % (which, len(self.inflater.unused_data) - (4 if self.inflater.unused_data.endswith(TAIL) else 0)))
        else:
            probe = self.inflater.copy()
            try:
                rest = probe.decompress(b"\x01\x00\x00\xff\xff")  # a final empty stored block
                clean = probe.eof and not rest and not probe.unused_data
            except zlib.error:
                clean = False
            if not clean:
                raise DeflateError("%s does not end on a DEFLATE block boundary after 00 00 ff ff is appended "
                                   "(the tail was not stripped, or the message was not flushed)" % which)
        if not p.recv_nct:
            self.window = (self.window + out)[-(1 << p.recv_bits):]
        self.raw_in += len(out)
        self.wire_in += len(data)
        return out

    def _inflate(self, data):
        """zlib checks a match's distance against the window plus what the current call has
        produced, so a window under 2^15 is enforced by inflating in steps of a quarter window:
        a match reaching more than 1.25 times the window back always fails."""
        bits = self.params.recv_bits
        if bits >= 15:
            return self.inflater.decompress(data)
        step = max(64, (1 << bits) // 4)
        out = [self.inflater.decompress(data, step)]
        while self.inflater.unconsumed_tail:
            out.append(self.inflater.decompress(self.inflater.unconsumed_tail, step))
        return b"".join(out)

    def stats(self):
        def ratio(wire, raw):
            return round(wire / raw, 4) if raw else None
        return {"messages_sent": self.sent, "sent_octets": self.raw_out, "sent_compressed": self.wire_out,
                "sent_ratio": ratio(self.wire_out, self.raw_out), "messages_received_compressed": self.received,
                "received_octets": self.raw_in, "received_compressed": self.wire_in,
                "received_ratio": ratio(self.wire_in, self.raw_in)}


# ---- The connection --------------------------------------------------------------------------

class Conn:
    """One WebSocket connection after the handshake, driven by select(). role "client" masks
    what it sends and expects unmasked frames; "server" the opposite. Records the peer's
    messages, pings and pongs in `received`, and everything about the closing."""

    def __init__(self, sock, role, leftover=b""):
        self.sock = sock
        sock.setblocking(False)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.role = role
        self.deadline = time.monotonic() + 3600
        self.rx = bytearray(leftover)
        self.rbuf = bytearray(1 << 20)
        self.rview = memoryview(self.rbuf)
        self.out = []            # pending writes: [memoryview]
        self.partial = None      # a frame being written in pieces: (encoded frame, octets queued, header size)
        self.deferred = []       # pongs that wait for that frame to end
        self.received = []
        self.listener = None     # called with each recorded event
        self.msg_op = None
        self.msg_parts = []
        self.close_sent = False
        self.close_received = False
        self.closed_by_me = False
        self.close_sent_at = None
        self.local_close_code = None
        self.remote_close_code = None
        self.remote_close_reason = None
        self.handshake_done_at = None
        self.was_clean = False
        self.tcp_closed = False
        self.dropped_by_me = False
        self.killed = False
        self.violation = None
        self.notes = []
        self.first_send_at = None
        self.last_message_at = None
        self.deflate = None      # a PerMessageDeflate once the extension is agreed
        self.deflate_note = None  # why it was not, in a case that negotiates it
        self.msg_compressed = False
        self.digests = False     # record messages as cases.Digest (categories 12 and 13)

    # -- sending --

    def mask_key(self, mask=None):
        masked = self.role == "client"
        if mask == "wrong":
            masked = not masked
        return os.urandom(4) if masked else None

    def encode(self, op, payload=b"", fin=True, rsv=0, mask=None):
        return build_frame(op, payload, fin, rsv, self.mask_key(mask))

    def encode_message(self, op, payload, frag=0):
        """A data message, compressed if permessage-deflate is agreed (RSV1 on its first frame
        only), in one frame or in frames of `frag` payload octets."""
        rsv = 0
        if self.deflate is not None:
            payload, rsv = self.deflate.compress(payload), 4
        if not frag or len(payload) <= frag:
            return [self.encode(op, payload, rsv=rsv)]
        pieces = [payload[i:i + frag] for i in range(0, len(payload), frag)]
        return [self.encode(op if i == 0 else C.CONT, piece, fin=i == len(pieces) - 1, rsv=rsv if i == 0 else 0)
                for i, piece in enumerate(pieces)]

    def queue(self, data):
        if data and not self.tcp_closed:
            self.out.append(memoryview(data))

    def flush(self):
        """Writes everything queued, reading (and answering) whatever arrives meanwhile."""
        if len(self.out) > 1:
            self.out = [memoryview(b"".join(self.out))]  # consecutive frames: one write
        while self.out and not self.tcp_closed:
            if time.monotonic() > self.deadline:
                return self.abort(killed=True, note="could not write within the case's time limit")
            r, w, _ = select.select([self.sock], [self.sock], [], 0.5)
            if r:
                self._read()
                if self.tcp_closed:
                    return
            if w:
                chunk = self.out[0]
                try:
                    n = self.sock.send(chunk[:1 << 20])
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as e:
                    return self._gone("writing failed: %s" % e)
                if self.first_send_at is None:
                    self.first_send_at = time.monotonic()
                if n == len(chunk):
                    self.out.pop(0)
                else:
                    self.out[0] = chunk[n:]

    def send_chopped(self, data, chop):
        """Writes `data` (one frame) in writes of `chop` octets. When there are few, a short
        pause after each makes them travel as separate segments; many (category 9) go back
        to back, still one send() each."""
        self.flush()
        count = (len(data) + chop - 1) // chop
        pause = 0.0002 if count <= 300 else 0.0
        view = memoryview(data)
        for i in range(0, len(data), chop):
            if self.tcp_closed or self.close_received:
                break
            self.queue(view[i:i + chop])
            self.partial = (data, min(i + chop, len(data)), 0)
            self.flush()
            if pause:
                self.pump(pause)
        if self.partial is not None and self.partial[0] is data:
            self.partial_done()

    def partial_done(self):
        """The frame written in pieces is complete: what waited for it may go."""
        self.partial = None
        for frame in self.deferred:
            self.queue(frame)
        self.deferred = []

    def _finish_partial(self):
        """Queues the rest of a half-written frame, so that a close frame can follow it
        (RFC 6455 §5.5.1 lets an endpoint finish what it is sending first)."""
        if self.partial is not None:
            data, sent, _ = self.partial
            self.queue(memoryview(data)[sent:])
            self.partial_done()
            self.notes.append("a close frame came while we were in the middle of a frame; we finished it first")

    def send_close(self, code=None, reason=b"", raw=None):
        payload = raw if raw is not None else close_payload(code, reason)
        if self.close_received:
            return  # the peer closed first and was answered already
        self._finish_partial()
        self.queue(self.encode(C.CLOSE, payload))
        if not self.close_sent:
            self.close_sent = True
            self.close_sent_at = time.monotonic()
            self.local_close_code = code if raw is None else (int.from_bytes(raw[:2], "big") if len(raw) >= 2 else None)
            if not self.close_received:
                self.closed_by_me = True
        self.flush()
        self._after_close_frames()

    # -- receiving --

    def pump(self, timeout):
        """Waits up to `timeout` for input and processes it."""
        if self.tcp_closed:
            return
        if self.rx:
            self._parse()  # octets that came with the handshake, or a frame still incomplete
        self.flush()
        if self.tcp_closed:
            return
        try:
            r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        except (OSError, ValueError):
            return self._gone("select failed")
        if r:
            self._read()
        self.flush()
        self._after_close_frames()

    def _read(self):
        for _ in range(64):
            try:
                n = self.sock.recv_into(self.rbuf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as e:
                self._parse()
                return self._gone("connection reset: %s" % e)
            if not n:
                self._parse()
                return self._eof()
            self.rx += self.rview[:n]
            if n < len(self.rbuf):
                break
        self._parse()

    def _violation(self, why):
        if self.violation is None:
            self.violation = why
        self.abort(note="the peer broke the protocol: " + why)

    def _parse(self):
        buf = self.rx
        pos = 0
        while not self.tcp_closed and self.violation is None:
            avail = len(buf) - pos
            if avail < 2:
                break
            b0, b1 = buf[pos], buf[pos + 1]
            fin, rsv, op = b0 >> 7, (b0 >> 4) & 7, b0 & 0x0F
            masked, n = b1 >> 7, b1 & 0x7F
            # The rules carried by the first two octets, checked before the rest arrives.
            if rsv and (self.deflate is None or rsv != 4):
                return self._violation("a frame with RSV bits %d and no extension" % rsv if self.deflate is None else
                                       "a frame with RSV bits %d (permessage-deflate uses RSV1 only)" % rsv)
            if rsv and op not in (C.TEXT, C.BINARY):
                return self._violation("RSV1 on a %s frame (permessage-deflate sets it on the first frame of a "
                                       "data message only)" % ("continuation" if op == C.CONT else "control"))
            if op in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15):
                return self._violation("a frame with the reserved opcode %d" % op)
            if op >= 8 and (not fin or n > 125):
                return self._violation("a fragmented or oversized control frame (opcode %d)" % op)
            if masked != (self.role == "server"):
                return self._violation("a %s frame from the %s" % ("masked" if masked else "unmasked",
                                                                    "server" if self.role == "client" else "client"))
            hl = 2
            if n == 126:
                if avail < 4:
                    break
                n = int.from_bytes(buf[pos + 2:pos + 4], "big")
                hl = 4
                if n < 126:
                    return self._violation("a payload length not in its shortest form")
            elif n == 127:
                if avail < 10:
                    break
                n = int.from_bytes(buf[pos + 2:pos + 10], "big")
                hl = 10
                if n >> 63:
                    return self._violation("a 64-bit payload length with the top bit set")
                if n < 65536:
                    return self._violation("a payload length not in its shortest form")
            key = None
            if masked:
                if avail < hl + 4:
                    break
                key = bytes(buf[pos + hl:pos + hl + 4])
                hl += 4
            if avail < hl + n:
                break
            payload = bytes(buf[pos + hl:pos + hl + n])
            if key is not None:
                payload = xor_mask(payload, key)
            pos += hl + n
            self._frame(fin, op, payload, rsv)
        if pos:
            del buf[:pos]

    def _record(self, event):
        self.received.append(event)
        if self.listener:
            self.listener(event)

    def _frame(self, fin, op, payload, rsv=0):
        if self.close_received:
            self.notes.append("the peer sent a frame (opcode %d) after its close frame" % op)
            return
        if op == C.CLOSE:
            return self._peer_close(payload)
        if op == C.PING:
            self._record(("ping", payload))
            if not self.close_sent:
                pong = self.encode(C.PONG, payload)
                if self.partial is not None:
                    self.deferred.append(pong)  # not in the middle of our frame
                else:
                    self.queue(pong)
            return
        if op == C.PONG:
            return self._record(("pong", payload))
        if op == C.CONT:
            if self.msg_op is None:
                return self._violation("a continuation frame with no message to continue")
            self.msg_parts.append(payload)
        else:
            if self.msg_op is not None:
                return self._violation("a new message inside a fragmented one")
            self.msg_op, self.msg_parts = op, [payload]
            self.msg_compressed = bool(rsv)
        if fin:
            op, data = self.msg_op, b"".join(self.msg_parts)
            self.msg_op, self.msg_parts = None, []
            if self.msg_compressed:
                try:
                    data = self.deflate.inflate(data)
                except DeflateError as e:
                    return self._violation(str(e))
            if op == C.TEXT and not C.is_utf8(data):
                return self._violation("a text message that is not UTF-8")
            self.last_message_at = time.monotonic()
            self._record(("message", C.Digest(data) if self.digests else data, op == C.BINARY))

    def _peer_close(self, payload):
        code, reason = None, b""
        if len(payload) == 1:
            return self._violation("a close frame with a 1-octet payload")
        if len(payload) >= 2:
            code, reason = int.from_bytes(payload[:2], "big"), payload[2:]
            if not valid_close_code(code):
                return self._violation("a close frame with the invalid code %d" % code)
            if not C.is_utf8(reason):
                return self._violation("a close reason that is not UTF-8")
        self.close_received = True
        self.remote_close_code, self.remote_close_reason = code, reason
        if not self.close_sent:
            # The peer closes first: answer with its code, as RFC 6455 §5.5.1 suggests.
            self.close_sent = True
            self.close_sent_at = time.monotonic()
            self.local_close_code = code
            self._finish_partial()
            self.queue(self.encode(C.CLOSE, close_payload(code)))

    def _after_close_frames(self):
        """Once both close frames are exchanged: a server (us) ends TCP; a client waits for the
        server to do so (Runner.tick enforces DROP_TIMEOUT)."""
        if self.tcp_closed or not (self.close_sent and self.close_received) or self.handshake_done_at:
            return
        self.flush()
        if self.tcp_closed:
            return
        self.handshake_done_at = time.monotonic()
        if self.role == "server":
            self.was_clean = True
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def _eof(self):
        if self.close_sent and self.close_received:
            self.was_clean = True
        elif not self.close_received:
            self.notes.append("the peer dropped TCP without a close frame")
        self._finish()

    def _gone(self, why):
        if self.close_sent and self.close_received:
            self.was_clean = True  # both close frames went; the peer ended TCP, if abruptly
        else:
            self.notes.append(why)
        self._finish()

    def _finish(self):
        self.tcp_closed = True
        self.out = []
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self, killed=False, note=None):
        """Drops TCP ourselves."""
        if self.tcp_closed:
            return
        if note:
            self.notes.append(note)
        self.dropped_by_me = True
        self.killed = self.killed or killed
        if self.role == "server" and self.close_sent and self.close_received:
            self.was_clean = True
        self._finish()


# ---- Running a case --------------------------------------------------------------------------

class Runner:
    """Plays one case's script on a Conn, then waits for the closing, within the case's
    time limit (or `cap` seconds, if smaller)."""

    def __init__(self, case, conn, cap=None):
        self.case = case
        self.conn = conn
        limit = case.max_seconds if cap is None else min(case.max_seconds, cap)
        self.start = time.monotonic()
        self.hard_deadline = self.start + limit
        conn.deadline = self.hard_deadline
        self.want_close = False
        self.timed_out = False
        self.script_end = None
        conn.listener = self._on_event
        conn.digests = case.deflate is not None

    def _on_event(self, event):
        case, conn = self.case, self.conn
        if conn.close_sent or conn.close_received:
            return
        if case.close_when == "message" and event[0] == "message":
            self.want_close = True
        elif case.close_when == "match" and case.close["closed_by_me"]:
            if all(conn.received == events for events in case.expected.values()):
                self.want_close = True

    def tick(self):
        conn, now = self.conn, time.monotonic()
        if conn.tcp_closed:
            return
        if now >= self.hard_deadline:
            self.timed_out = True
            return conn.abort(killed=True, note="the case did not finish within %.0f s" % (self.hard_deadline - self.start))
        if self.want_close and not conn.close_sent and not conn.close_received:
            conn.send_close(self.case.close["codes"][0])
        if conn.close_sent and not conn.close_received and now - conn.close_sent_at > CLOSE_TIMEOUT:
            return conn.abort(note="no close frame answered ours within %.0f s" % CLOSE_TIMEOUT)
        if conn.handshake_done_at and now - conn.handshake_done_at > DROP_TIMEOUT:
            if conn.role == "client":
                return conn.abort(note="the server did not drop TCP within %.0f s of the closing handshake" % DROP_TIMEOUT)
            return conn.abort()

    def wait(self, seconds, stop=None):
        end = min(time.monotonic() + seconds, self.hard_deadline)
        while not self.conn.tcp_closed:
            self.tick()
            now = time.monotonic()
            if self.conn.tcp_closed or now >= end or (stop and stop()):
                break
            self.conn.pump(min(end - now, 0.05))

    def is_open(self):
        return not (self.conn.tcp_closed or self.conn.close_received)

    def run(self):
        conn, case = self.conn, self.case
        script = case.script
        if case.deflate is not None and conn.deflate is None:
            # Autobahn: the peer does not do permessage-deflate (UNIMPLEMENTED); close at once.
            script = [C.Close(C.NORMAL)]
        for action in script:
            self.tick()
            if conn.tcp_closed:
                break
            if isinstance(action, C.Wait):
                conn.flush()
                self.wait(action.seconds)
                if not self.is_open():
                    break
                if action.tag is not None:
                    conn._record(("timeout", action.tag))
                continue
            if conn.close_received:
                continue  # after the peer's close (and our answer) nothing more is sent
            if isinstance(action, C.Send):
                data = conn.encode(action.op, action.payload, action.fin, action.rsv, action.mask)
                if action.chop:
                    conn.send_chopped(data, action.chop)
                elif action.sync:
                    conn.flush()
                    conn.queue(data)
                    conn.flush()
                    conn.pump(0.001)
                else:
                    conn.queue(data)
            elif isinstance(action, C.SendMessage):
                payload, frag = action.payload, action.frag or max(1, len(action.payload))
                pieces = [payload[i:i + frag] for i in range(0, len(payload), frag)] or [b""]
                for i, piece in enumerate(pieces):
                    conn.queue(conn.encode(action.op if i == 0 else C.CONT, piece, fin=i == len(pieces) - 1))
            elif isinstance(action, C.SendHead):
                data = conn.encode(action.op, action.payload)
                head = len(data) - len(action.payload)
                conn.partial = (data, 0, head)
                self._send_partial(action.upto)
            elif isinstance(action, C.SendMore):
                self._send_partial(action.upto)
            elif isinstance(action, C.Close):
                conn.send_close(action.code, action.reason, action.raw)
            elif isinstance(action, C.RoundTrips):
                self._round_trips(action)
            elif isinstance(action, C.DeflateEcho):
                self._deflate_echo(action)
            else:
                raise TypeError("unknown action %r" % action)
        conn.flush()
        self.script_end = time.monotonic()
        kind, seconds = case.after
        if kind == "kill":
            # Autobahn drops after as little as 0.5 s; a conforming peer has answered long
            # before, and the margin keeps a loaded CI machine from failing a correct peer.
            seconds = max(seconds, KILL_FLOOR)
        self.wait(seconds, stop=lambda: conn.close_sent or conn.close_received)
        if not conn.tcp_closed and not conn.close_sent and not conn.close_received:
            # Nothing closed the connection in time: Autobahn's closeAfter / killAfter. Once a
            # close frame went either way, CLOSE_TIMEOUT and DROP_TIMEOUT govern instead.
            if kind == "close":
                conn.send_close(C.NORMAL)
            else:
                conn.abort(killed=True, note="dropped by us %.1f s after the script ended" % seconds)
        while not conn.tcp_closed:
            self.wait(0.2)
        return self

    def _send_partial(self, upto):
        """Writes more of the frame SendHead started, up to payload octet `upto` (or all)."""
        conn = self.conn
        data, sent, head = conn.partial
        end = len(data) if upto is None else min(len(data), head + upto)
        conn.queue(memoryview(data)[sent:end])
        if end >= len(data):
            conn.partial_done()
        else:
            conn.partial = (data, end, head)
        conn.flush()

    def _round_trips(self, action):
        conn = self.conn
        for _ in range(action.count):
            if not self.is_open() or time.monotonic() >= self.hard_deadline:
                return
            before = len(conn.received)
            conn.queue(conn.encode(action.op, action.payload))
            conn.flush()
            self.wait(self.hard_deadline - time.monotonic(), stop=lambda: len(conn.received) > before)

    def _deflate_echo(self, action):
        conn = self.conn
        for i, payload in enumerate(action.messages()):
            if not self.is_open() or time.monotonic() >= self.hard_deadline:
                return
            before = len(conn.received)
            for frame in conn.encode_message(action.op, payload, action.frag):
                conn.queue(frame)
            conn.flush()
            self.wait(self.hard_deadline - time.monotonic(), stop=lambda: len(conn.received) > before)
            if len(conn.received) <= before:
                return
            got, want = conn.received[before], ("message", C.Digest(payload), action.binary)
            if got != want:
                if got[0] != "message":
                    why = "a %s came instead" % got[0]
                elif got[2] != want[2]:
                    why = "it came as %s" % ("binary" if got[2] else "text")
                elif len(got[1]) != len(want[1]):
                    why = "it has %d octets instead of %d" % (len(got[1]), len(want[1]))
                else:
                    why = "its octets differ (SHA-1 %s instead of %s)" % (got[1].sha1.hex(), want[1].sha1.hex())
                conn.notes.append("the echo of message %d of %d is wrong: %s" % (i + 1, action.count, why))
                return


# ---- Judging ---------------------------------------------------------------------------------

def judge(case, runner):
    conn = runner.conn
    behavior, result = C.FAILED, "The events differ from every expected list."
    for verdict in (C.OK, C.NON_STRICT):
        if verdict in case.expected and conn.received == case.expected[verdict]:
            behavior, result = verdict, "The events match the %s list." % verdict
            break
    expected = case.close
    if conn.violation:
        bclose, rclose = C.FAILED, "The peer broke the protocol: %s." % conn.violation
        behavior = C.FAILED
    elif runner.timed_out:
        bclose, rclose = C.FAILED, "The case did not finish within its time limit."
    elif conn.killed and not expected["closed_by_me"]:
        bclose, rclose = C.FAILED, "The peer did not fail the connection; we dropped it after waiting."
    elif conn.killed:
        bclose, rclose = C.FAILED, "The case did not finish in time; we dropped the connection."
    elif expected["closed_by_me"] != conn.closed_by_me:
        bclose = C.FAILED
        rclose = "The wrong endpoint started the closing: %s." % ("we did" if conn.closed_by_me else "the peer did")
    elif expected["require_clean"] and not conn.was_clean:
        bclose, rclose = UNCLEAN, "A clean closing handshake was required (%s)." % "; ".join(conn.notes or ["none"])
    elif conn.remote_close_code is not None and conn.remote_close_code not in expected["codes"]:
        bclose = WRONG_CODE
        rclose = "The peer closed with %d; expected %s or none." % (conn.remote_close_code,
                                                                   ", ".join(map(str, expected["codes"])))
    elif conn.role == "client" and conn.dropped_by_me:
        bclose, rclose = FAILED_BY_CLIENT, "The server did not drop TCP after the closing handshake."
    else:
        bclose, rclose = C.OK, "The connection was closed as expected."

    if case.deflate is not None and conn.deflate is None and not conn.violation:
        behavior = C.UNIMPLEMENTED
        result = "The peer did not agree on permessage-deflate: %s." % (conn.deflate_note or "no extension")
    elif behavior == C.FAILED and case.deflate is not None:
        wrong = [n for n in conn.notes if n.startswith("the echo of message")]
        result = "%s (%d of %d echoes received%s)." % (result[:-1], len(conn.received), len(case.expected[C.OK]),
                                                    "; " + wrong[0] if wrong else "")

    if case.informational and not conn.violation:
        verdict = C.INFORMATIONAL
        result = "Informational. Received: %s." % describe_events(conn.received)
    else:
        close_as = {C.OK: C.OK, FAILED_BY_CLIENT: C.NON_STRICT}.get(bclose, C.FAILED)
        verdict = max(behavior, close_as, key=RANK.get)
    return verdict, behavior, result, bclose, rclose


def describe_events(events):
    if not events:
        return "nothing"
    out = []
    for e in events[:6]:
        if e[0] == "message":
            out.append("%s message of %d octets" % ("binary" if e[2] else "text", len(e[1])))
        else:
            out.append("%s %s" % (e[0], preview(e[1])))
    if len(events) > 6:
        out.append("... %d events in all" % len(events))
    return ", ".join(out)


def preview(data, limit=48):
    if isinstance(data, str):
        return data
    if isinstance(data, C.Digest):
        return "sha1:" + data.sha1.hex()
    s = data[:limit]
    try:
        text = s.decode("utf-8")
        if text.isprintable():
            return repr(text) + ("..." if len(data) > limit else "")
    except UnicodeDecodeError:
        pass
    return "0x" + s.hex() + ("..." if len(data) > limit else "")


def event_json(e):
    if e[0] == "message":
        return {"type": "message", "binary": e[2], "length": len(e[1]), "payload": preview(e[1])}
    if e[0] == "timeout":
        return {"type": "timeout", "tag": e[1]}
    return {"type": e[0], "length": len(e[1]), "payload": preview(e[1])}


def events_json(events):
    if len(events) > 20 and all(e == events[0] for e in events):
        return {"repeated": len(events), "event": event_json(events[0])}
    if len(events) > 20:
        return {"count": len(events), "first": [event_json(e) for e in events[:3]],
                "last": [event_json(e) for e in events[-3:]]}
    return [event_json(e) for e in events]


def result_record(case, runner, agent=None):
    conn = runner.conn
    verdict, behavior, result, bclose, rclose = judge(case, runner)
    end = time.monotonic()
    rec = {
        "id": case.id,
        "category": case.category,
        "description": case.description,
        "expectation": case.expectation,
        "verdict": verdict,
        "behavior": behavior,
        "behavior_close": bclose,
        "result": result,
        "result_close": rclose,
        "expected": {k: events_json(v) for k, v in case.expected.items()},
        "expected_close": case.close,
        "received": events_json(conn.received),
        "closed_by_me": conn.closed_by_me,
        "dropped_by_me": conn.dropped_by_me,
        "was_clean": conn.was_clean,
        "local_close_code": conn.local_close_code,
        "remote_close_code": conn.remote_close_code,
        "remote_close_reason": preview(conn.remote_close_reason) if conn.remote_close_reason else None,
        "notes": conn.notes,
        "duration_ms": round(1000 * (end - runner.start), 1),
    }
    if case.category in ("9", "12", "13") and conn.last_message_at is not None and conn.first_send_at is not None:
        rec["echo_ms"] = round(1000 * (conn.last_message_at - conn.first_send_at), 1)
    if case.deflate is not None:
        rec["deflate"] = dict(conn.deflate.params.as_json(), **conn.deflate.stats()) if conn.deflate else \
            {"agreed": None, "why": conn.deflate_note}
    if agent:
        rec["agent"] = agent
    return rec


def failed_record(case, why, agent=None):
    rec = {"id": case.id, "category": case.category, "description": case.description, "expectation": case.expectation,
           "verdict": C.FAILED, "behavior": C.FAILED, "behavior_close": C.FAILED, "result": why,
           "result_close": why, "received": [], "notes": [why], "duration_ms": 0.0}
    if agent:
        rec["agent"] = agent
    return rec


# ---- Summary and report ----------------------------------------------------------------------

def miss_line(rec):
    text = "%-13s %-8s %s" % (rec["verdict"], rec["id"], rec["result"])
    if rec.get("behavior_close") not in (C.OK, None) or rec["verdict"] != C.OK:
        text += " Close: %s %s" % (rec.get("behavior_close"), rec.get("result_close"))
    if rec.get("remote_close_code") is not None:
        text += " (peer's code %s)" % rec["remote_close_code"]
    return text


def summarize(records, selected):
    """{category: {verdict: count, ...}} over the selected cases; missing ones count FAILED."""
    by_id = {r["id"]: r for r in records}
    table = {}
    for case in selected:
        row = table.setdefault(case.category, {C.OK: 0, C.NON_STRICT: 0, C.INFORMATIONAL: 0, C.FAILED: 0,
                                               C.UNIMPLEMENTED: 0, "cases": 0, "missing": 0, "ms": 0.0})
        row["cases"] += 1
        rec = by_id.get(case.id)
        if rec is None:
            row["missing"] += 1
            row[C.FAILED] += 1
        else:
            row[rec["verdict"]] += 1
            row["ms"] += rec.get("duration_ms", 0.0)
    return table


def print_summary(records, selected, title, out=sys.stdout, seconds=None):
    table = summarize(records, selected)
    w = out.write
    w("\n%s\n" % title)
    names = {cat: "%s %s" % (cat, C.CATEGORIES.get(cat, "")) for cat in table}
    width = max([26] + [len(n) for n in names.values()])
    w("%-*s %6s %6s %11s %6s %7s %9s\n" % (width, "Category", "Cases", "OK", "NON-STRICT", "INFO", "FAILED", "Time"))
    total = {C.OK: 0, C.NON_STRICT: 0, C.INFORMATIONAL: 0, C.FAILED: 0, C.UNIMPLEMENTED: 0, "cases": 0, "ms": 0.0,
             "missing": 0}
    for cat in sorted(table, key=int):
        row = table[cat]
        for k in total:
            total[k] += row[k]
        notes = []
        if row[C.UNIMPLEMENTED]:
            notes.append("%d of them UNIMPLEMENTED" % row[C.UNIMPLEMENTED])
        if row["missing"]:
            notes.append("%d not run" % row["missing"])
        # The FAILED column counts UNIMPLEMENTED (a peer that did not agree on the extension) too.
        w("%-*s %6d %6d %11d %6d %7d %8.1fs%s\n" % (width, names[cat], row["cases"], row[C.OK],
                                                  row[C.NON_STRICT], row[C.INFORMATIONAL],
                                                  row[C.FAILED] + row[C.UNIMPLEMENTED], row["ms"] / 1000,
                                                  "  (%s)" % ", ".join(notes) if notes else ""))
    w("%-*s %6d %6d %11d %6d %7d %8.1fs\n" % (width, "Total", total["cases"], total[C.OK], total[C.NON_STRICT],
                                             total[C.INFORMATIONAL], total[C.FAILED] + total[C.UNIMPLEMENTED],
                                             total["ms"] / 1000))
    by_id = {r["id"]: r for r in records}
    nine = [c for c in selected if c.category == "9" and c.id in by_id]
    if nine:
        w("\nCategory 9 timings (from the first octet sent to the last echo received):\n")
        for c in nine:
            rec = by_id[c.id]
            ms = rec.get("echo_ms")
            w("  %-7s %-38s %10s  %s\n" % (c.id, c.label, "%.1f ms" % ms if ms is not None else "-", rec["verdict"]))
    if seconds is not None:
        w("\nWall time: %.1f s\n" % seconds)
    misses = total[C.NON_STRICT] + total[C.FAILED] + total[C.UNIMPLEMENTED]
    ok = misses == 0
    w("%s\n" % ("PASS: every case is OK or INFORMATIONAL." if ok else "FAIL: %d case(s) not strictly OK." % misses))
    return ok


def write_report(path, records, selected, meta):
    """The JSON report: `meta`, a summary per category (per agent if records carry
    several), and every case record."""
    report = dict(meta)
    agents = sorted({r.get("agent") for r in records if r.get("agent")})
    if len(agents) > 1:
        report["summary"] = {a: {cat: dict(row, name=C.CATEGORIES.get(cat, "")) for cat, row in
                                 summarize([r for r in records if r.get("agent") == a], selected).items()}
                             for a in agents}
    else:
        report["summary"] = {cat: dict(row, name=C.CATEGORIES.get(cat, ""))
                             for cat, row in summarize(records, selected).items()}
    for rows in ([report["summary"]] if len(agents) <= 1 else report["summary"].values()):
        for row in rows.values():
            row["ms"] = round(row["ms"], 1)
    report["cases"] = records
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)

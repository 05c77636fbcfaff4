"""The case catalogue: the case categories of the Autobahn|Testsuite (1-7, 9, 10), one `Case`
per case, each a short script of actions plus what the peer must do in reply.

The cases follow the public Autobahn|Testsuite case definitions (same ids, same octets on the
wire, same expected events and close codes), re-implemented here. A case is judged the way
Autobahn judges it (see wsfuzz.judge): the events the peer produced (echoed messages, pongs,
"still open after a wait" markers) must equal one of the expected event lists, whose key is the
behaviour verdict (OK, NON-STRICT), and the closing must match `close`:

    closed_by_me   True if we (the fuzzer) send the first close frame; False if the peer must
                   fail the connection itself (send a close frame or drop TCP)
    codes          close codes the peer may send; no close frame at all is also accepted
    require_clean  a full closing handshake is required, and a server drops TCP first

Category 11 is an addition of this suite, not an Autobahn case: a frame masked the wrong way
for its direction (RFC 6455 §5.1).

The script is run by wsfuzz.Runner. Frames are masked when the fuzzer is the client and unmasked
when it is the server (`mask="wrong"` inverts that). Consecutive sends go out in one TCP write
unless `sync` (a write of its own) or `chop` (writes of that many octets) say otherwise.
"""

import hashlib
import re

import testdata

OK = "OK"
NON_STRICT = "NON-STRICT"
INFORMATIONAL = "INFORMATIONAL"
FAILED = "FAILED"
# Categories 12 and 13: the peer did not agree on permessage-deflate (Autobahn's verdict). A miss.
UNIMPLEMENTED = "UNIMPLEMENTED"

TEXT, BINARY, CLOSE, PING, PONG, CONT = 1, 2, 8, 9, 10, 0

NORMAL, GOING_AWAY, PROTOCOL_ERROR, INVALID_PAYLOAD = 1000, 1001, 1002, 1007

CATEGORIES = {
    "1": "Framing",
    "2": "Pings/Pongs",
    "3": "Reserved Bits",
    "4": "Opcodes",
    "5": "Fragmentation",
    "6": "UTF-8 Handling",
    "7": "Close Handling",
    "9": "Limits/Performance",
    "10": "Misc",
    "11": "Masking (extra)",
    "12": "WebSocket Compression (different payloads)",
    "13": "WebSocket Compression (different parameters)",
}

# Left out of the default selection (no --cases) unless the fuzzer is given --deflate.
DEFLATE_CATEGORIES = ("12", "13")


# ---- Actions -------------------------------------------------------------------------------

class Send:
    """One frame. `chop`: write it in pieces of that many octets; `sync`: a write of its own."""

    def __init__(self, op, payload=b"", fin=True, rsv=0, chop=None, sync=False, mask=None):
        self.op, self.payload, self.fin, self.rsv = op, payload, fin, rsv
        self.chop, self.sync, self.mask = chop, sync, mask


class SendMessage:
    """A message, in one frame or cut into frames of `frag` payload octets."""

    def __init__(self, op, payload, frag=None):
        self.op, self.payload, self.frag = op, payload, frag


class SendHead:
    """Starts one frame of the whole payload but sends only its header and payload[:upto]."""

    def __init__(self, op, payload, upto):
        self.op, self.payload, self.upto = op, payload, upto


class SendMore:
    """Sends more of the frame SendHead started: up to payload[:upto], or all of it."""

    def __init__(self, upto=None):
        self.upto = upto


class Close:
    """A close frame: `code` and `reason`, or exactly `raw` as its payload."""

    def __init__(self, code=None, reason=b"", raw=None):
        self.code, self.reason, self.raw = code, reason, raw


class Wait:
    """Flushes, then waits. If the connection is no longer open at the end (the peer sent a
    close frame or dropped TCP), the rest of the script is skipped; otherwise `tag`, if
    given, is recorded as the event ("timeout", tag)."""

    def __init__(self, seconds, tag=None):
        self.seconds, self.tag = seconds, tag


class RoundTrips:
    """Sends `count` messages one at a time, each after the echo of the previous arrived."""

    def __init__(self, op, payload, count):
        self.op, self.payload, self.count = op, payload, count


class DeflateEcho:
    """Categories 12 and 13: `count` messages, each the next `size` octets of the corpus
    (wrapping around at its end), each sent compressed once the echo of the previous one has
    arrived. The compressed payload goes in one frame (`frag` 0) or in frames of `frag` octets
    (RSV1 on the first only). Stops at the first echo that differs."""

    def __init__(self, corpus, size, count, frag):
        self.corpus, self.size, self.count, self.frag = corpus, size, count, frag
        self.binary = testdata.CORPORA[corpus][1]
        self.op = BINARY if self.binary else TEXT

    def messages(self):
        data = testdata.corpus(self.corpus)
        n, pos = len(data), 0
        for _ in range(self.count):
            end = pos + self.size
            yield data[pos:end] if end <= n else data[pos:] + data[:end % n]
            pos = end % n


class Digest:
    """A message payload by its length and SHA-1: categories 12 and 13 echo up to 128 MiB per
    case, and compare (and report) messages this way, as Autobahn does."""
    __slots__ = ("length", "sha1")

    def __init__(self, data):
        self.length, self.sha1 = len(data), hashlib.sha1(data).digest()

    def __len__(self):
        return self.length

    def __eq__(self, other):
        return isinstance(other, Digest) and self.length == other.length and self.sha1 == other.sha1

    def __hash__(self):
        return hash(self.sha1)

    def __repr__(self):
        return "Digest(%d octets, sha1 %s)" % (self.length, self.sha1.hex())


class Deflate:
    """The permessage-deflate parameters of a case (Autobahn's CLIENT_OFFERS and SERVER_ACCEPT).

    offers  when the fuzzer is the client: one offer per (request_no_context_takeover,
            request_max_window_bits) pair, in this order. Every offer also carries
            client_no_context_takeover and client_max_window_bits (Autobahn's default
            offer); the pair adds server_no_context_takeover and server_max_window_bits=N.
    accept  when the fuzzer is the server: the (request_no_context_takeover,
            request_max_window_bits) pairs to try in order against the client's offers; a pair
            fits an offer if the offer has client_max_window_bits (when the pair asks for a
            window size); client_no_context_takeover may be asked of any offer (RFC 7692
            §7.1.1.2, and Autobahn's offer parser assumes it). The
            response echoes the offer's server_* parameters and adds client_no_context_takeover
            and client_max_window_bits=N as the pair says. No fitting offer: UNIMPLEMENTED.
    """

    def __init__(self, offers, accept):
        self.offers, self.accept = list(offers), list(accept)

    def describe(self):
        return "client offers (no_context_takeover, max_window_bits) %s / server accepts %s" % (
            _pairs(self.offers), _pairs(self.accept))


def _pairs(pairs):
    return "[%s]" % ", ".join("(%s, %d)" % (nct, bits) for nct, bits in pairs)


# ---- Cases ---------------------------------------------------------------------------------

class Case:
    def __init__(self, id, description, expectation, script, expected, close, after,
                 close_when="match", informational=False, label=None, max_seconds=None, deflate=None):
        self.id = id
        self.description = description
        self.expectation = expectation
        self.script = script
        # {verdict: [events]}: an event is ("message", payload, is_binary), ("pong", payload),
        # ("ping", payload) or ("timeout", tag).
        self.expected = expected
        self.close = close
        # What the fuzzer does once the script has run, if the connection is still open:
        # ("close", s) sends a normal close after s seconds, ("kill", s) drops TCP after s.
        self.after = after
        # "match": close with close["codes"][0] as soon as the events equal every expected
        # list (what Autobahn does); "message": close after the first message; None: never.
        self.close_when = close_when
        self.informational = informational
        self.label = label or description
        # Hard bound on the whole case, closing handshake included.
        self.max_seconds = max_seconds if max_seconds is not None else after[1] + 8.0
        # Categories 12 and 13: a `Deflate` (the extension is negotiated for this case).
        self.deflate = deflate

    @property
    def expected(self):
        # A callable stands for a list too costly to build for every case at start-up.
        if callable(self._expected):
            self._expected = self._expected()
        return self._expected

    @expected.setter
    def expected(self, value):
        self._expected = value

    @property
    def category(self):
        return self.id.split(".")[0]

    @property
    def subcategory(self):
        return ".".join(self.id.split(".")[:2])

    def sort_key(self):
        return tuple(int(x) for x in self.id.split("."))


def closed_by_fuzzer(*codes, clean=True):
    return {"closed_by_me": True, "codes": list(codes), "require_clean": clean}


def failed_by_peer(*codes):
    return {"closed_by_me": False, "codes": list(codes), "require_clean": False}


def repeat_to(pattern, length):
    """`pattern` repeated and cut to `length` octets (Autobahn's payload_len)."""
    return (pattern * (length // len(pattern) + 1))[:length]


def echo_case(id, description, script, message, after=("kill", 1), **kw):
    return Case(id, description, "The message is echoed back, then a clean close with 1000.",
                script, {OK: [message]}, closed_by_fuzzer(NORMAL), after, **kw)


def failing_case(id, description, script, code=PROTOCOL_ERROR, ok=(), non_strict=None, after=("kill", 1)):
    expected = {OK: list(ok)}
    if non_strict is not None:
        expected[NON_STRICT] = list(non_strict)
    expectation = "The peer fails the connection (%d or a dropped TCP connection)" % code
    if ok:
        expectation += ", after echoing the messages sent before the bad frame"
    return Case(id, description, expectation + ".", script, expected, failed_by_peer(code), after)


HELLO = b"Hello, world!"


def category_1():
    cases = []
    for sub, op, fill, kind in ((1, TEXT, b"*", "text"), (2, BINARY, b"\xfe", "binary")):
        lengths = [0, 125, 126, 127, 128, 65535, 65536]
        for i, n in enumerate(lengths, 1):
            payload = fill * n
            cases.append(echo_case("1.%d.%d" % (sub, i), "Send a %s message with a payload of %d octets." % (kind, n),
                                   [Send(op, payload)], ("message", payload, op == BINARY),
                                   after=("kill", 1 if n < 65535 else 10)))
        payload = fill * 65536
        cases.append(echo_case("1.%d.8" % sub, "Send a %s message of 65536 octets, written in chops of 997 octets." % kind,
                               [Send(op, payload, chop=997)], ("message", payload, op == BINARY), after=("kill", 10)))
    return cases


def pong_case(id, description, script, pongs, after=("close", 1)):
    return Case(id, description, "A pong echoing each ping's payload, then a clean close with 1000.",
                script, {OK: [("pong", p) for p in pongs]}, closed_by_fuzzer(NORMAL), after)


def category_2():
    binary8 = b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"
    cases = [
        pong_case("2.1", "Send a ping without payload.", [Send(PING)], [b""]),
        pong_case("2.2", "Send a ping with a small text payload.", [Send(PING, HELLO)], [HELLO]),
        pong_case("2.3", "Send a ping with a small binary (non UTF-8) payload.", [Send(PING, binary8)], [binary8]),
        pong_case("2.4", "Send a ping with a binary payload of 125 octets.", [Send(PING, b"\xfe" * 125)], [b"\xfe" * 125]),
        failing_case("2.5", "Send a ping with a binary payload of 126 octets (control frames carry at most 125).",
                     [Send(PING, b"\xfe" * 126)]),
        pong_case("2.6", "Send a ping with a binary payload of 125 octets, written octet by octet.",
                  [Send(PING, b"\xfe" * 125, chop=1)], [b"\xfe" * 125], after=("close", 2)),
    ]
    for id, payload in (("2.7", b""), ("2.8", b"unsolicited pong payload")):
        cases.append(Case(id, "Send an unsolicited pong (payload %r), then a close frame." % payload,
                          "Nothing in reply to the pong; a clean close with 1000.",
                          [Send(PONG, payload), Close(NORMAL)], {OK: []}, closed_by_fuzzer(NORMAL), ("close", 1)))
    cases.append(pong_case("2.9", "Send an unsolicited pong, then a ping with payload.",
                           [Send(PONG, b"unsolicited pong payload"), Send(PING, b"ping payload")], [b"ping payload"]))
    payloads = [b"payload-%d" % i for i in range(10)]
    cases.append(pong_case("2.10", "Send 10 pings with payloads.", [Send(PING, p) for p in payloads], payloads,
                           after=("close", 3)))
    cases.append(pong_case("2.11", "Send 10 pings with payloads, written octet by octet.",
                           [Send(PING, p, chop=1) for p in payloads], payloads, after=("close", 3)))
    return cases


def category_3():
    after_echo = [("message", HELLO, False)]
    return [
        failing_case("3.1", "Send a small text message with RSV = 1.", [Send(TEXT, HELLO, rsv=1)]),
        failing_case("3.2", "Send a small text message, then again with RSV = 2, then a ping.",
                     [Send(TEXT, HELLO), Send(TEXT, HELLO, rsv=2), Send(PING)], ok=after_echo, non_strict=[]),
        failing_case("3.3", "Send a small text message, then again with RSV = 3, then a ping; each frame in a write of its own.",
                     [Send(TEXT, HELLO, sync=True), Send(TEXT, HELLO, rsv=3, sync=True), Send(PING, sync=True)],
                     ok=after_echo, non_strict=[]),
        failing_case("3.4", "Send a small text message, then again with RSV = 4, then a ping; written octet by octet.",
                     [Send(TEXT, HELLO, chop=1), Send(TEXT, HELLO, rsv=4, chop=1), Send(PING, chop=1)],
                     ok=after_echo, non_strict=[]),
        failing_case("3.5", "Send a small binary message with RSV = 5.",
                     [Send(BINARY, b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff", rsv=5)]),
        # Autobahn's description says "ping"; its code sends a binary frame. A ping covers the
        # control-frame path, which 3.7 covers only for close frames.
        failing_case("3.6", "Send a ping with RSV = 6.", [Send(PING, HELLO, rsv=6)]),
        failing_case("3.7", "Send a close frame with RSV = 7.", [Send(CLOSE, rsv=7)]),
    ]


def category_4():
    after_echo = [("message", HELLO, False)]
    cases = []
    for sub, ops, kind in ((1, (3, 4, 5, 6, 7), "non-control"), (2, (11, 12, 13, 14, 15), "control")):
        a, b, c, d, e = ops
        cases += [
            failing_case("4.%d.1" % sub, "Send a frame with the reserved %s opcode %d." % (kind, a), [Send(a)]),
            failing_case("4.%d.2" % sub, "Send a frame with the reserved %s opcode %d and a payload." % (kind, b),
                         [Send(b, b"reserved opcode payload")]),
            failing_case("4.%d.3" % sub, "Send a small text message, then a frame with reserved opcode %d, then a ping." % c,
                         [Send(TEXT, HELLO), Send(c), Send(PING)], ok=after_echo, non_strict=[]),
            failing_case("4.%d.4" % sub, "Send a small text message, then a frame with reserved opcode %d and a payload, then a ping." % d,
                         [Send(TEXT, HELLO), Send(d, HELLO), Send(PING)], ok=after_echo, non_strict=[]),
            failing_case("4.%d.5" % sub, "Same as 4.%d.4 with opcode %d, written octet by octet." % (sub, e),
                         [Send(TEXT, HELLO, chop=1), Send(e, HELLO, chop=1), Send(PING, chop=1)],
                         ok=after_echo, non_strict=[]),
        ]
    return cases


def category_5():
    f1, f2 = b"fragment1", b"fragment2"
    ping = b"ping payload"
    message = ("message", f1 + f2, False)

    def frag_echo(id, description, script, events):
        return Case(id, description, "The events listed are received in order, then a clean close with 1000.",
                    script, {OK: events}, closed_by_fuzzer(NORMAL), ("close", 1))

    cases = [
        failing_case("5.1", "Send a ping in 2 fragments.", [Send(PING, f1, fin=False), Send(CONT, f2)]),
        failing_case("5.2", "Send a pong in 2 fragments.", [Send(PONG, f1, fin=False), Send(CONT, f2)]),
        frag_echo("5.3", "Send a text message in 2 fragments.", [Send(TEXT, f1, fin=False), Send(CONT, f2)], [message]),
        frag_echo("5.4", "Send a text message in 2 fragments, each in a write of its own.",
                  [Send(TEXT, f1, fin=False, sync=True), Send(CONT, f2, sync=True)], [message]),
        frag_echo("5.5", "Send a text message in 2 fragments, written octet by octet.",
                  [Send(TEXT, f1, fin=False, chop=1), Send(CONT, f2, chop=1)], [message]),
        frag_echo("5.6", "Send a text message in 2 fragments with a ping in between.",
                  [Send(TEXT, f1, fin=False), Send(PING, ping), Send(CONT, f2)], [("pong", ping), message]),
        frag_echo("5.7", "Send a text message in 2 fragments with a ping in between, each frame in a write of its own.",
                  [Send(TEXT, f1, fin=False, sync=True), Send(PING, ping, sync=True), Send(CONT, f2, sync=True)],
                  [("pong", ping), message]),
        frag_echo("5.8", "Send a text message in 2 fragments with a ping in between, written octet by octet.",
                  [Send(TEXT, f1, fin=False, chop=1), Send(PING, ping, chop=1), Send(CONT, f2, chop=1)],
                  [("pong", ping), message]),
    ]
    nothing = b"non-continuation payload"
    n = 9
    for fin in (True, False):
        for how, kw in (("in one write", {}), ("each frame in a write of its own", {"sync": True}),
                        ("written octet by octet", {"chop": 1})):
            cases.append(failing_case(
                "5.%d" % n, "Send a continuation frame with FIN = %s where there is nothing to continue, then a text message; %s."
                % (str(fin).lower(), how), [Send(CONT, nothing, fin=fin, **kw), Send(TEXT, HELLO, **kw)]))
            n += 1
    f3, f4 = b"fragment3", b"fragment4"
    cases.append(failing_case("5.15", "Send a text message in 2 fragments, then a continuation frame with FIN = false where there is nothing to continue, then a text message.",
                              [Send(TEXT, f1, fin=False), Send(CONT, f2), Send(CONT, f3, fin=False), Send(TEXT, f4)],
                              ok=[message], non_strict=[]))
    for id, fin in (("5.16", False), ("5.17", True)):
        script = []
        for _ in range(2):
            script += [Send(CONT, f1, fin=fin), Send(TEXT, f2, fin=False), Send(CONT, f3)]
        cases.append(failing_case(id, "Twice: a continuation frame with FIN = %s where there is nothing to continue, then a text message in 2 fragments."
                                  % str(fin).lower(), script))
    cases.append(failing_case("5.18", "Send a text message in 2 fragments, both frames with opcode text.",
                              [Send(TEXT, f1, fin=False), Send(TEXT, f2)]))
    frags = [b"fragment%d" % i for i in range(1, 6)]
    pings = [b"pongme 1!", b"pongme 2!"]
    for id, sync in (("5.19", False), ("5.20", True)):
        cases.append(Case(
            id, "A text message in 5 fragments: 2 fragments and a ping, a 1 s pause, 2 more fragments, another ping and the last fragment%s."
            % (", each frame in a write of its own" if sync else ""),
            "Each ping is answered at once, before the message ends; then the whole message is echoed.",
            [Send(TEXT, frags[0], fin=False, sync=sync), Send(CONT, frags[1], fin=False, sync=sync), Send(PING, pings[0], sync=sync),
             Wait(1.0),
             Send(CONT, frags[2], fin=False, sync=sync), Send(CONT, frags[3], fin=False, sync=sync), Send(PING, pings[1], sync=sync),
             Send(CONT, frags[4], sync=sync)],
            {OK: [("pong", pings[0]), ("pong", pings[1]), ("message", b"".join(frags), False)]},
            closed_by_fuzzer(NORMAL), ("close", 1)))
    return cases


# ---- Category 6: UTF-8 ---------------------------------------------------------------------

KOSME = bytes.fromhex("cebae1bdb9cf83cebcceb5")  # "κόσμε", with U+1F79 for the ό
HELLO_UTF8 = "Hello-µ@ßöäüàá-UTF-8!!".encode()


def is_utf8(data):
    """RFC 3629 validity of a complete message (Python's codec is strict: no overlongs,
    surrogates or code points above U+10FFFF; noncharacters are valid)."""
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def utf8_stress_groups():
    """Markus Kuhn's UTF-8 decoder stress test (UTF-8-test.txt), in the groups and order
    Autobahn numbers as 6.5 to 6.23: [(title, [payload, ...])]."""
    h = bytes.fromhex
    truncated = [h(x) for x in ("c0", "e080", "f08080", "f8808080", "fc80808080",
                                "df", "efbf", "f7bfbf", "fbbfbfbf", "fdbfbfbfbf")]
    lonely = []
    for lo, hi in ((0xC0, 0xDF), (0xE0, 0xEF), (0xF0, 0xF7), (0xF8, 0xFB), (0xFC, 0xFD)):
        lonely.append(bytes(b for lead in range(lo, hi) for b in (lead, 0x20)))
    nonchars = [h("efbfbe"), h("efbfbf")]
    for lead in (0xF0, 0xF1, 0xF2, 0xF3, 0xF4):
        for second in (0x8F, 0x9F, 0xAF, 0xBF):
            if lead == 0xF4 and second != 0x8F:
                continue  # above U+10FFFF
            for last in (0xBE, 0xBF):
                seq = bytes((lead, second, 0xBF, last))
                if lead == 0xF0 and second == 0x8F:
                    continue  # overlong
                nonchars.append(seq)
    surrogates = ["eda080", "edadbf", "edae80", "edafbf", "edb080", "edbe80", "edbfbf"]
    high, low = ["eda080", "edadbf", "edae80", "edafbf"], ["edb080", "edbfbf"]
    return [
        ("Some valid UTF-8 sequences",
         [b"hello$world", b"hello\xc2\xa2world", b"hello\xe2\x82\xacworld", b"hello\xf0\xa4\xad\xa2world", KOSME]),
        ("All prefixes of a valid UTF-8 string with multi-byte code points",
         [KOSME[:i] for i in range(1, len(KOSME) + 1)]),
        ("First possible sequence of a certain length", [h("00"), h("c280"), h("e0a080"), h("f0908080")]),
        ("First possible sequence of length 5/6 (invalid code points)", [h("f888808080"), h("fc8480808080")]),
        ("Last possible sequence of a certain length", [h("7f"), h("dfbf"), h("efbfbf"), h("f48fbfbf")]),
        ("Last possible sequence of length 4/5/6 (invalid code points)", [h("f7bfbfbf"), h("fbbfbfbfbf"), h("fdbfbfbfbfbf")]),
        ("Other boundary conditions", [h("ed9fbf"), h("ee8080"), h("efbfbd"), h("f48fbfbf"), h("f4908080")]),
        ("Unexpected continuation bytes",
         [h(x) for x in ("80", "bf", "80bf", "80bf80", "80bf80bf", "80bf80bf80", "80bf80bf80bf")] + [bytes(range(0x80, 0xBF))]),
        ("Lonely start characters", lonely),
        ("Sequences with last continuation byte missing", truncated),
        ("Concatenation of incomplete sequences", [b"".join(truncated)]),
        ("Impossible bytes", [h("fe"), h("ff"), h("fefeffff")]),
        ("Examples of an overlong ASCII character", [h(x) for x in ("c0af", "e080af", "f08080af", "f8808080af", "fc80808080af")]),
        ("Maximum overlong sequences", [h(x) for x in ("c1bf", "e09fbf", "f08fbfbf", "f887bfbfbf", "fc83bfbfbfbf")]),
        ("Overlong representation of the NUL character", [h(x) for x in ("c080", "e08080", "f0808080", "f880808080", "fc8080808080")]),
        ("Single UTF-16 surrogates", [h(x) for x in surrogates]),
        ("Paired UTF-16 surrogates", [h(a + b) for a in high for b in low]),
        ("Noncharacter code points (valid UTF-8)", nonchars),
        ("Unicode specials (e.g. the replacement character)", [h("efbf%02x" % b) for b in range(0xB9, 0xC0)]),
    ]


def category_6():
    cases = [
        echo_case("6.1.1", "Send a text message of length 0.", [Send(TEXT, b"")], ("message", b"", False), after=("close", 1)),
        echo_case("6.1.2", "Send a text message in 3 fragments, each of length 0.",
                  [Send(TEXT, b"", fin=False), Send(CONT, b"", fin=False), Send(CONT, b"")], ("message", b"", False),
                  after=("close", 1)),
        echo_case("6.1.3", "Send a text message in 3 fragments, the first and last of length 0.",
                  [Send(TEXT, b"", fin=False), Send(CONT, b"middle frame payload", fin=False), Send(CONT, b"")],
                  ("message", b"middle frame payload", False), after=("close", 1)),
        echo_case("6.2.1", "Send a valid UTF-8 text message in one frame.", [SendMessage(TEXT, HELLO_UTF8)],
                  ("message", HELLO_UTF8, False), after=("close", 1)),
        echo_case("6.2.2", "Send a valid UTF-8 text message in 2 fragments, split on a code point boundary.",
                  [Send(TEXT, "Hello-µ@ßöä".encode(), fin=False), Send(CONT, "üàá-UTF-8!!".encode())],
                  ("message", HELLO_UTF8, False), after=("close", 1)),
        echo_case("6.2.3", "Send a valid UTF-8 text message in fragments of 1 octet (frames end inside code points).",
                  [SendMessage(TEXT, HELLO_UTF8, frag=1)], ("message", HELLO_UTF8, False), after=("close", 1)),
        echo_case("6.2.4", "Send a valid UTF-8 text message (κόσμε) in fragments of 1 octet.",
                  [SendMessage(TEXT, KOSME, frag=1)], ("message", KOSME, False), after=("close", 1)),
    ]
    bad = KOSME + b"\xed\xa0\x80" + b"edited"  # invalid at octet 12 (a surrogate)
    cases.append(failing_case("6.3.1", "Send an invalid UTF-8 text message in one frame.", [SendMessage(TEXT, bad)],
                              code=INVALID_PAYLOAD))
    cases.append(failing_case("6.3.2", "Send an invalid UTF-8 text message in fragments of 1 octet.",
                              [SendMessage(TEXT, bad, frag=1)], code=INVALID_PAYLOAD))

    # 6.4: fail fast. The invalid octet is sent, then we wait: the peer must fail the
    # connection (1007) within the wait, before the rest of the message is sent. Failing only
    # once the message ended is NON-STRICT; failing before the invalid octet is FAILED.
    p = KOSME + b"\xf4\x90\x80\x80" + b"edited"  # U+110000 in the UTF-8 scheme: invalid at octet 12 (0x90)
    fast = {OK: [("timeout", "A")], NON_STRICT: [("timeout", "A"), ("timeout", "B")]}
    expectation = ("The first part is accepted (we time out waiting); the peer fails the connection with 1007 as "
                   "soon as the second part arrives, before the third is sent.")
    for id, how, cuts, in_frames in (
            ("6.4.1", "3 frames: valid, then the code point that makes it invalid, then the rest", (11, 15), True),
            ("6.4.2", "3 frames: the second is only the octet that makes it invalid", (12, 13), True),
            ("6.4.3", "one frame in 3 writes: valid, then the invalid code point, then the rest", (11, 15), False),
            ("6.4.4", "one frame in 3 writes: the second is only the octet that makes it invalid", (12, 13), False)):
        a, b = cuts
        if in_frames:
            script = [Send(TEXT, p[:a], fin=False), Wait(1.0, "A"), Send(CONT, p[a:b], fin=False), Wait(1.0, "B"),
                      Send(CONT, p[b:])]
        else:
            script = [SendHead(TEXT, p, a), Wait(1.0, "A"), SendMore(b), Wait(1.0, "B"), SendMore()]
        cases.append(Case(id, "Fail fast on invalid UTF-8: an invalid text message in " + how + ", 1 s apart.",
                          expectation, script, fast, failed_by_peer(INVALID_PAYLOAD), ("kill", 1)))

    for group, (title, payloads) in enumerate(utf8_stress_groups(), 5):
        for i, payload in enumerate(payloads, 1):
            id = "6.%d.%d" % (group, i)
            if is_utf8(payload):
                cases.append(Case(id, "%s: send a valid UTF-8 text message in one frame: 0x%s." % (title, payload.hex()),
                                  "The message is echoed back.", [SendMessage(TEXT, payload)],
                                  {OK: [("message", payload, False)]}, closed_by_fuzzer(NORMAL), ("kill", 0.5)))
            else:
                cases.append(Case(id, "%s: send an invalid UTF-8 text message in one frame: 0x%s." % (title, payload.hex()),
                                  "The peer fails the connection with 1007.", [SendMessage(TEXT, payload)],
                                  {OK: []}, failed_by_peer(INVALID_PAYLOAD), ("kill", 0.5)))
    return cases


# ---- Category 7: closing -------------------------------------------------------------------

def category_7():
    def close_case(id, description, expectation, script, close, expected=None, informational=False):
        return Case(id, description, expectation, script, expected or {OK: []}, close, ("kill", 1),
                    close_when=None, informational=informational)

    hello = b"Hello World!"
    cases = [
        Case("7.1.1", "Send a message, then a close frame once it is echoed.",
             "The message is echoed, then a clean close with 1000.", [Send(TEXT, hello)],
             {OK: [("message", hello, False)]}, closed_by_fuzzer(NORMAL), ("kill", 1)),
        close_case("7.1.2", "Send two close frames.", "A clean close with 1000; the second close frame is ignored.",
                   [Close(NORMAL), Send(CLOSE)], closed_by_fuzzer(NORMAL)),
        close_case("7.1.3", "Send a ping after the close frame.", "A clean close with 1000; no pong.",
                   [Close(NORMAL), Send(PING)], closed_by_fuzzer(NORMAL)),
        close_case("7.1.4", "Send a text message after the close frame.", "A clean close with 1000; the message is ignored.",
                   [Close(NORMAL), Send(TEXT, hello)], closed_by_fuzzer(NORMAL)),
        close_case("7.1.5", "Send the first fragment of a message, a close frame, then the last fragment.",
                   "A clean close with 1000; nothing is echoed.",
                   [Send(TEXT, b"fragment1", fin=False), Close(NORMAL), Send(CONT, b"fragment2")], closed_by_fuzzer(NORMAL)),
        close_case("7.1.6", "Send a 256 KiB message, a small message, a close frame and a ping, back to back.",
                   "Informational: whether the messages are echoed before the close depends on the implementation.",
                   [Send(TEXT, repeat_to(b"BAsd7&jh23", 256 * 1024)), Send(TEXT, hello), Close(NORMAL), Send(PING)],
                   closed_by_fuzzer(NORMAL), expected={OK: [("message", hello, False)], NON_STRICT: []},
                   informational=True),
        close_case("7.3.1", "Send a close frame with an empty payload (no code, no reason).",
                   "A clean close (1000 or no code).", [Close(raw=b"")], closed_by_fuzzer(NORMAL)),
        close_case("7.3.2", "Send a close frame with a 1-octet payload.", "A close with 1002, or a dropped TCP connection.",
                   [Close(raw=b"a")], closed_by_fuzzer(PROTOCOL_ERROR, clean=False)),
        close_case("7.3.3", "Send a close frame with a code and no reason.", "A clean close with 1000.",
                   [Close(NORMAL)], closed_by_fuzzer(NORMAL)),
        close_case("7.3.4", "Send a close frame with a code and a reason.", "A clean close with 1000.",
                   [Close(NORMAL, hello)], closed_by_fuzzer(NORMAL)),
        close_case("7.3.5", "Send a close frame with a code and a reason of the maximum length (123).",
                   "A clean close with 1000.", [Close(NORMAL, b"*" * 123)], closed_by_fuzzer(NORMAL)),
        close_case("7.3.6", "Send a close frame with a code and a 124-octet reason (a 126-octet control payload).",
                   "A close with 1002, or a dropped TCP connection.",
                   [Close(raw=NORMAL.to_bytes(2, "big") + b"*" * 124)], closed_by_fuzzer(PROTOCOL_ERROR, clean=False)),
        close_case("7.5.1", "Send a close frame whose reason is not valid UTF-8.",
                   "A close with 1002 or 1007, or a dropped TCP connection.",
                   [Close(raw=NORMAL.to_bytes(2, "big") + KOSME + b"\xed\xa0\x80" + b"edited")],
                   closed_by_fuzzer(PROTOCOL_ERROR, INVALID_PAYLOAD, clean=False)),
    ]
    for i, code in enumerate([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999], 1):
        cases.append(close_case("7.7.%d" % i, "Send a close frame with the valid close code %d." % code,
                                "A clean close with 1000 or the same code.", [Close(code)],
                                closed_by_fuzzer(NORMAL, code)))
    for i, code in enumerate([0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999], 1):
        cases.append(close_case("7.9.%d" % i, "Send a close frame with the invalid close code %d." % code,
                                "A close with 1002, or a dropped TCP connection.", [Close(code)],
                                closed_by_fuzzer(PROTOCOL_ERROR, clean=False)))
    for i, code in enumerate([5000, 65535], 1):
        cases.append(close_case("7.13.%d" % i, "Send a close frame with the close code %d." % code,
                                "Informational: the spec leaves this open.", [Close(code)],
                                closed_by_fuzzer(NORMAL, code, PROTOCOL_ERROR, clean=False), informational=True))
    return cases


# ---- Category 9: limits and performance ------------------------------------------------------

KiB, MiB = 1024, 1024 * 1024


def size_name(n):
    if n >= MiB and n % MiB == 0:
        return "%d MiB" % (n // MiB)
    if n >= KiB and n % KiB == 0:
        return "%d KiB" % (n // KiB)
    return "%d B" % n


def category_9():
    cases = []

    def big(id, description, label, script, payload, op, wait):
        return Case(id, description, "The message is echoed back exactly, then a clean close with 1000.", script,
                    {OK: [("message", payload, op == BINARY)]}, closed_by_fuzzer(NORMAL), ("close", wait),
                    close_when="message", label=label)

    for sub, op, pattern, kind in ((1, TEXT, b"BAsd7&jh23", "text"), (2, BINARY, b"\x00\xfe\x23\xfa\xf0", "binary")):
        for i, n in enumerate([64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB, 8 * MiB, 16 * MiB], 1):
            payload = repeat_to(pattern, n)
            cases.append(big("9.%d.%d" % (sub, i), "Send a %s message of %s in one frame." % (kind, size_name(n)),
                             "%s %s" % (kind, size_name(n)), [Send(op, payload)], payload, op, 60 if n > MiB else 10))
    for sub, op, fill, kind in ((3, TEXT, b"*", "text"), (4, BINARY, b"\xfe", "binary")):
        payload = fill * (4 * MiB)
        for i, frag in enumerate([64, 256, 1 * KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB], 1):
            cases.append(big("9.%d.%d" % (sub, i), "Send a %s message of 4 MiB in fragments of %s." % (kind, size_name(frag)),
                             "%s 4 MiB in %s fragments" % (kind, size_name(frag)),
                             [SendMessage(op, payload, frag=frag)], payload, op, 60))
    for sub, op, pattern, kind in ((5, TEXT, b"BAsd7&jh23", "text"), (6, BINARY, b"\x00\xfe\x23\xfa\xf0", "binary")):
        payload = repeat_to(pattern, 1 * MiB)
        for i, chop in enumerate([64, 128, 256, 512, 1024, 2048], 1):
            cases.append(big("9.%d.%d" % (sub, i), "Send a %s message of 1 MiB, written in chops of %d octets." % (kind, chop),
                             "%s 1 MiB in %d-octet writes" % (kind, chop), [Send(op, payload, chop=chop)], payload, op, 60))
    for sub, op, fill, kind in ((7, TEXT, b"*", "text"), (8, BINARY, b"\xfe", "binary")):
        for i, n in enumerate([0, 16, 64, 256, 1024, 4096], 1):
            payload, count = fill * n, 1000
            cases.append(Case("9.%d.%d" % (sub, i),
                              "Send %d %s messages of %d octets, each after the previous one's echo (round-trip time)." % (count, kind, n),
                              "All messages are echoed back exactly, then a clean close with 1000.",
                              [RoundTrips(op, payload, count), Close(NORMAL)],
                              {OK: [("message", payload, op == BINARY)] * count}, closed_by_fuzzer(NORMAL), ("close", 60),
                              close_when=None, label="%d x %s %s" % (count, kind, size_name(n))))
    return cases


def category_10():
    payload = b"*" * 65536
    return [echo_case("10.1.1", "Send a text message of 65536 octets, fragmented automatically into frames of 1300 octets.",
                      [SendMessage(TEXT, payload, frag=1300)], ("message", payload, False), after=("kill", 10))]


def category_11():
    # Not an Autobahn case: RFC 6455 §5.1 makes a client mask every frame and a server mask
    # none, and the receiver of a frame masked the wrong way must fail the connection.
    after_echo = [("message", HELLO, False)]
    return [
        failing_case("11.1.1", "Send a text message masked the wrong way for its direction (unmasked from a client, masked from a server).",
                     [Send(TEXT, HELLO, mask="wrong")]),
        failing_case("11.1.2", "Send a small text message, then one masked the wrong way, then a ping.",
                     [Send(TEXT, HELLO), Send(TEXT, HELLO, mask="wrong"), Send(PING)], ok=after_echo, non_strict=[]),
    ]


# ---- Categories 12 and 13: permessage-deflate (RFC 7692) --------------------------------------

# (payload octets, messages, Autobahn's time limit in seconds, frame size of the compressed
# payload: 0 for one frame), as in Autobahn's case12_x_x.
DEFLATE_SIZES = [
    (16, 1000, 60, 0), (64, 1000, 60, 0), (256, 1000, 120, 0), (1024, 1000, 240, 0), (4096, 1000, 480, 0),
    (8192, 1000, 480, 0), (16384, 1000, 480, 0), (32768, 1000, 480, 0), (65536, 1000, 480, 0),
    (131072, 1000, 480, 0),
    (8192, 1000, 480, 256), (16384, 1000, 480, 256), (32768, 1000, 480, 256), (65536, 1000, 480, 256),
    (131072, 1000, 480, 256), (131072, 1000, 480, 1024), (131072, 1000, 480, 4096), (131072, 1000, 480, 32768),
]

# 12.1-12.5, in the order Autobahn's reports list them.
DEFLATE_CORPORA = ["json_data1", "lena512", "gutenberg_faust", "html_data1", "ooms"]

# 13.1-13.7: (client offers, server accepts), each a list of (no_context_takeover, max_window_bits).
DEFLATE_PARAMS = [
    ([(False, 0)], [(False, 0)]),
    ([(True, 0)], [(True, 0)]),
    ([(False, 8)], [(False, 8)]),
    ([(False, 15)], [(False, 15)]),
    ([(True, 8)], [(True, 8)]),
    ([(True, 15)], [(True, 15)]),
    ([(True, 8), (True, 0), (False, 0)], [(True, 8), (True, 0), (False, 0)]),
]


def deflate_subcategory(corpus, deflate):
    desc, binary, size = testdata.CORPORA[corpus]
    text = "%s (%s, %d octets, generated)" % (desc, "binary" if binary else "text", size)
    return text if deflate is None else text + " - " + deflate.describe()


def deflate_cases(category, sub, corpus, deflate, offer_text):
    cases = []
    for i, (size, count, seconds, frag) in enumerate(DEFLATE_SIZES, 1):
        action = DeflateEcho(corpus, size, count, frag)

        def expected(action=action):
            return {OK: [("message", Digest(m), action.binary) for m in action.messages()]}

        framing = "in frames of %d octets" % frag if frag else "in one frame"
        cases.append(Case(
            "%s.%d.%d" % (category, sub, i),
            "%s: send %d compressed %s messages of %d octets (successive slices of the corpus), each once the previous "
            "one is echoed; the compressed payload %s. %s" % (deflate_subcategory(corpus, None), count,
                                                               "binary" if action.binary else "text", size, framing,
                                                               offer_text),
            "Every message is echoed with the same type and octets within %d s, then a clean close with 1000." % seconds,
            [action, Close(NORMAL)], expected, closed_by_fuzzer(NORMAL), ("close", seconds), close_when=None,
            label="%d x %s%s" % (count, size_name(size), ", %d-octet frames" % frag if frag else ""),
            deflate=deflate))
    return cases


def category_12():
    cases = []
    for sub, corpus in enumerate(DEFLATE_CORPORA, 1):
        cases += deflate_cases("12", sub, corpus, Deflate([(False, 0)], [(False, 0)]),
                               "The default permessage-deflate offer.")
    return cases


def category_13():
    cases = []
    for sub, (offers, accept) in enumerate(DEFLATE_PARAMS, 1):
        deflate = Deflate(offers, accept)
        cases += deflate_cases("13", sub, "json_data1", deflate, "permessage-deflate: %s." % deflate.describe())
    return cases


def subcategories():
    """{"12.1": description, ...} for the compression categories."""
    out = {}
    for sub, corpus in enumerate(DEFLATE_CORPORA, 1):
        out["12.%d" % sub] = deflate_subcategory(corpus, None)
    for sub, (offers, accept) in enumerate(DEFLATE_PARAMS, 1):
        out["13.%d" % sub] = deflate_subcategory("json_data1", Deflate(offers, accept))
    return out


def all_cases():
    cases = (category_1() + category_2() + category_3() + category_4() + category_5() + category_6()
             + category_7() + category_9() + category_10() + category_11() + category_12() + category_13())
    cases.sort(key=Case.sort_key)
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return cases


def select(cases, patterns=None, exclude=None, deflate=False):
    """Cases whose id matches one of the comma-separated patterns ('*' matches anything:
    "1.*,6.4.*"), minus those matching `exclude`. Without patterns: every case, except the
    permessage-deflate categories 12 and 13 unless `deflate`."""
    def compile(spec):
        return [re.compile(re.escape(p.strip()).replace(r"\*", ".*") + "$") for p in spec.split(",") if p.strip()]

    chosen = cases
    if patterns:
        pats = compile(patterns)
        chosen = [c for c in chosen if any(p.match(c.id) for p in pats)]
    elif not deflate:
        chosen = [c for c in chosen if c.category not in DEFLATE_CATEGORIES]
    if exclude:
        pats = compile(exclude)
        chosen = [c for c in chosen if not any(p.match(c.id) for p in pats)]
    return chosen


if __name__ == "__main__":
    import collections
    counts = collections.Counter(c.category for c in all_cases())
    for cat in sorted(counts, key=int):
        print("%3s %-22s %4d" % (cat, CATEGORIES[cat], counts[cat]))
    print("    %-22s %4d" % ("total", sum(counts.values())))

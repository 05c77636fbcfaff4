"""Payload corpora for categories 12 and 13 (permessage-deflate).

Autobahn|Testsuite echoes slices of five files it ships (a JSON document, a 512x512 8-bit
grayscale bitmap, the Project Gutenberg text of Goethe's Faust I, an HTML page and a PDF). Those
files are not ours to copy, so each corpus here is generated, deterministically (a fixed seed),
to the same size and the same kind of content: what matters to a compressor is the statistics
(ASCII markup with repeated keys, a smooth photograph-like image, German prose with umlauts,
text mixed with already-compressed binary), not the exact octets.

`corpus(name)` returns the octets (cached); `CORPORA` lists name, description, whether the
messages go out as binary (False: text, and the corpus is ASCII so that every slice of it is
valid UTF-8), and the size.
"""

import math
import random
import zlib

# name: (description, binary, size in octets). The descriptions and the text/binary choice are
# Autobahn's; the sizes are those of Autobahn's files.
CORPORA = {
    "json_data1": ("Large JSON data file", False, 194237),
    "lena512": ("Lena Picture, Bitmap 512x512 bw", True, 263222),
    "gutenberg_faust": ("Human readable text, Goethe's Faust I (German)", True, 222218),
    "html_data1": ("Large HTML file", False, 263992),
    "ooms": ("A larger PDF", True, 1042328),
}

_cache = {}


def corpus(name):
    if name not in _cache:
        data = _MAKERS[name](random.Random("duplex-" + name))
        size = CORPORA[name][2]
        assert len(data) >= size, (name, len(data))
        _cache[name] = bytes(data[:size])
    return _cache[name]


def _random_bytes(rng, n):
    return rng.getrandbits(8 * n).to_bytes(n, "little") if n else b""


# ---- The JSON document ------------------------------------------------------------------------

_FIRST = ["Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hugo", "Ida", "Jonas", "Karla", "Leon",
          "Mia", "Noah", "Olga", "Paul", "Rosa", "Sam", "Tara", "Umar", "Vera", "Walt", "Xenia", "Yuri", "Zoe"]
_LAST = ["Archer", "Baker", "Cooper", "Dalton", "Ellis", "Fischer", "Garcia", "Hansen", "Ito", "Jensen", "Kowalski",
         "Lopez", "Meyer", "Novak", "Okafor", "Petrov", "Quinn", "Rossi", "Sato", "Tanaka", "Urban", "Varga", "Weber"]
_CITIES = ["Amsterdam", "Berlin", "Chicago", "Dublin", "Edinburgh", "Florence", "Geneva", "Helsinki", "Istanbul",
           "Jakarta", "Kyoto", "Lisbon", "Madrid", "Nairobi", "Oslo", "Prague", "Quito", "Reykjavik", "Seoul"]
_TAGS = ["alpha", "beta", "gamma", "delta", "stable", "nightly", "legacy", "beta-2", "internal", "public", "archived",
         "critical", "minor", "major", "docs", "perf", "network", "storage", "ui", "api"]
_WORDS = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do", "eiusmod",
          "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna", "aliqua", "enim", "ad", "minim", "veniam"]


def _json(rng):
    out = ['{"generated":"duplex conformance suite","version":3,"records":[\n']
    n = 0
    while sum(map(len, out)) < CORPORA["json_data1"][2] + 1000:
        n += 1
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        tags = ",".join('"%s"' % t for t in rng.sample(_TAGS, rng.randint(0, 4)))
        friends = ",".join('{"id":%d,"name":"%s %s"}' % (rng.randint(1, 99999), rng.choice(_FIRST), rng.choice(_LAST))
                           for _ in range(rng.randint(0, 3)))
        about = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 16)))
        out.append(
            ' {"id":%d,"guid":"%08x-%04x-%04x-%04x-%012x","isActive":%s,"balance":"$%d,%03d.%02d","age":%d,'
            '"name":"%s %s","email":"%s.%s@example.com","city":"%s","latitude":%.6f,"longitude":%.6f,'
            '"registered":"20%02d-%02d-%02dT%02d:%02d:%02d","tags":[%s],"friends":[%s],"about":"%s."},\n'
            % (n, rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(48),
               rng.choice(["true", "false"]), rng.randint(1, 9), rng.randint(0, 999), rng.randint(0, 99),
               rng.randint(18, 90), first, last, first.lower(), last.lower(), rng.choice(_CITIES),
               rng.uniform(-90, 90), rng.uniform(-180, 180), rng.randint(0, 23), rng.randint(1, 12), rng.randint(1, 28),
               rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59), tags, friends, about.capitalize()))
    out.append(' {"id":0}\n]}\n')
    return "".join(out).encode("ascii")


# ---- The bitmap -------------------------------------------------------------------------------

def _bitmap(rng):
    w = h = 512
    header = (b"BM" + (14 + 40 + 1024 + w * h).to_bytes(4, "little") + bytes(4) + (14 + 40 + 1024).to_bytes(4, "little")
              + (40).to_bytes(4, "little") + w.to_bytes(4, "little") + h.to_bytes(4, "little") + (1).to_bytes(2, "little")
              + (8).to_bytes(2, "little") + bytes(4) + (w * h).to_bytes(4, "little") + (2835).to_bytes(4, "little") * 2
              + (256).to_bytes(4, "little") + bytes(4))
    palette = b"".join(bytes((i, i, i, 0)) for i in range(256))
    # A smooth "photograph": a few broad gradients and shapes, plus sensor noise.
    blobs = [(rng.uniform(0, w), rng.uniform(0, h), rng.uniform(40, 160), rng.uniform(-70, 70)) for _ in range(7)]
    sx = [math.sin(x / 37.0) for x in range(w)]
    rows = []
    for y in range(h):
        cy = math.cos(y / 53.0)
        row = bytearray(w)
        for x in range(w):
            v = 110 + 45 * sx[x] * cy + 0.08 * (x - y)
            for bx, by, r, a in blobs:
                d2 = ((x - bx) ** 2 + (y - by) ** 2) / (r * r)
                if d2 < 4:
                    v += a * (1 - d2 / 4)
            v += rng.randint(-5, 5)
            row[x] = 0 if v < 0 else 255 if v > 255 else int(v)
        rows.append(bytes(row))
    return header + palette + b"".join(rows)


# ---- German prose -----------------------------------------------------------------------------

_DE = ("der die das und ich du er sie es wir ihr nicht ist bin hat habe mit von zu auf für an wie was wer wo "
       "nun noch schon doch auch nur mehr so ach o weh Herz Welt Geist Nacht Tag Licht Himmel Erde Gott Teufel "
       "Seele Leben Tod Liebe Wissen Kunst Natur Mensch Stunde Augenblick Traum Schmerz Glück Gretchen Heinrich "
       "Mephistopheles Faust Wagner Marthe Valentin Schüler Hexe Engel Chor Geister zwischen über unter schön "
       "süß groß klein alt jung müde fröhlich traurig heilig böse höchste schwöre möchte könnte würde dürfte "
       "Gefühl Träne Frühling Mädchen Schwüle Flügel Bücher Straße Fuß Grüße weiß heiß Spaß gewußt daß").split()
_SPEAKERS = ["FAUST", "MEPHISTOPHELES", "WAGNER", "MARGARETE", "MARTHE", "VALENTIN", "SCHÜLER", "CHOR DER ENGEL",
             "GEISTER", "HEXE", "DIREKTOR", "DICHTER", "LUSTIGE PERSON"]


def _prose(rng):
    out = ["Faust: Der Tragödie erster Teil (ein erzeugter Text im Versmaß, nicht Goethes)\r\n\r\n"]
    size, n = 0, 0
    while size < CORPORA["gutenberg_faust"][2] + 1000:
        n += 1
        if n % 40 == 1:
            part = "\r\n\r\nSZENE %d. %s.\r\n\r\n" % (n // 40 + 1, rng.choice(["Nacht", "Studierzimmer", "Garten",
                                                                       "Straße", "Kerker", "Wald und Höhle"]))
        else:
            lines = []
            for _ in range(rng.randint(2, 8)):
                words = [rng.choice(_DE) for _ in range(rng.randint(4, 9))]
                words[0] = words[0][:1].upper() + words[0][1:]
                lines.append(" ".join(words) + rng.choice([",", ".", "!", "?", ";", ""]))
            part = "%s:\r\n%s\r\n\r\n" % (rng.choice(_SPEAKERS), "\r\n".join(lines))
        out.append(part)
        size += len(part.encode("utf-8"))
    return "".join(out).encode("utf-8")


# ---- The HTML page ----------------------------------------------------------------------------

def _html(rng):
    out = ['<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Generated report</title>\n'
           '<link rel="stylesheet" href="/static/css/main.css">\n</head>\n<body>\n<div id="container" class="main">\n']
    size, n = 0, 0
    while size < CORPORA["html_data1"][2] + 1000:
        n += 1
        kind = rng.randint(0, 3)
        if kind == 0:
            part = '<h2 id="section-%d" class="section-title">%s</h2>\n' % (
                n, " ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 6))).title())
        elif kind == 1:
            part = '<p class="text">%s.</p>\n' % " ".join(rng.choice(_WORDS) for _ in range(rng.randint(20, 80))).capitalize()
        elif kind == 2:
            rows = "".join('<tr class="%s"><td class="id">%d</td><td class="name"><a href="/users/%d">%s %s</a></td>'
                           '<td class="city">%s</td><td class="num">%d.%02d</td></tr>\n'
                           % (rng.choice(["odd", "even"]), rng.randint(1, 99999), rng.randint(1, 99999), rng.choice(_FIRST),
                              rng.choice(_LAST), rng.choice(_CITIES), rng.randint(0, 9999), rng.randint(0, 99))
                           for _ in range(rng.randint(3, 12)))
            part = ('<table class="data-table">\n<thead><tr><th>Id</th><th>Name</th><th>City</th><th>Amount</th></tr></thead>\n'
                    '<tbody>\n%s</tbody>\n</table>\n' % rows)
        else:
            items = "".join('<li class="item"><a href="/%s/%s.html" title="%s">%s</a></li>\n'
                            % (rng.choice(_TAGS), rng.choice(_WORDS), rng.choice(_WORDS), rng.choice(_WORDS).title())
                            for _ in range(rng.randint(2, 10)))
            part = '<div class="box"><ul class="links">\n%s</ul></div>\n' % items
        out.append(part)
        size += len(part)
    out.append("</div>\n</body>\n</html>\n")
    return "".join(out).encode("ascii")


# ---- The PDF ----------------------------------------------------------------------------------

def _pdf(rng):
    out = [b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"]
    offsets, size, obj = [], len(out[0]), 0
    while size < CORPORA["ooms"][2] + 4000:
        obj += 1
        offsets.append(size)
        kind = rng.randint(0, 5)
        if kind <= 2:
            # A page's content stream, deflated as PDF writers do: nearly incompressible.
            text = "".join("BT /F%d %d Tf %d %d Td (%s) Tj ET\n" % (
                rng.randint(1, 4), rng.randint(8, 14), rng.randint(50, 550), rng.randint(50, 750),
                " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 12)))) for _ in range(rng.randint(40, 160)))
            body = zlib.compress(text.encode("ascii"), 9)
            part = b"%d 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n" % (obj, len(body)) + body + b"\nendstream\nendobj\n"
        elif kind == 3:
            # An embedded image or font: random octets.
            body = _random_bytes(rng, rng.randint(2000, 12000))
            part = (b"%d 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d /BitsPerComponent 8 /Length %d "
                    b"/Filter /DCTDecode >>\nstream\n" % (obj, rng.randint(50, 900), rng.randint(50, 900), len(body))
                    + body + b"\nendstream\nendobj\n")
        else:
            part = (b"%d 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                    b"/Resources << /Font << /F1 %d 0 R /F2 %d 0 R >> /ProcSet [/PDF /Text /ImageC] >> >>\nendobj\n"
                    % (obj, rng.randint(1, 999), rng.randint(1, 999), rng.randint(1, 999)))
        out.append(part)
        size += len(part)
    xref = b"xref\n0 %d\n0000000000 65535 f \n" % (obj + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out.append(xref + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (obj + 1, size))
    return b"".join(out)


_MAKERS = {"json_data1": _json, "lena512": _bitmap, "gutenberg_faust": _prose, "html_data1": _html, "ooms": _pdf}


if __name__ == "__main__":
    import time
    for name, (desc, binary, size) in CORPORA.items():
        t = time.monotonic()
        data = corpus(name)
        ratio = len(zlib.compress(data, 6)) / len(data)
        print("%-16s %-48s %-6s %8d octets, deflates to %3.0f%%, %.2f s" % (
            name, desc, "binary" if binary else "text", len(data), 100 * ratio, time.monotonic() - t))

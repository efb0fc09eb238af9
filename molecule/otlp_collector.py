"""A test's own OTLP/HTTP trace collector, and the decoding of what it received (stdlib only).

On a test host (python3, run as a transient unit):  otlp_collector.py DIR PORT [HEADER]
Answers every POST with 200; stores the body of each POST to /v1/traces as DIR/<n>.pb, and, when HEADER
is given, the sha256 of that request header's value as DIR/<n>.header: the test can then compare a
secret header without the collector ever writing it. Logs nothing.

On the controller: spans(body) -> the spans of an ExportTraceServiceRequest (opentelemetry-proto's
trace_service.proto), each {"name", "kind", "attributes", "resource"}, read from the protobuf wire format;
received(output of listing_command(DIR) on the host) -> [(spans, header digest)], one per export.
"""

import base64
import gzip
import hashlib
import itertools
import os
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVER = 2  # Span.SpanKind.SPAN_KIND_SERVER


def _varint(buf, i):
    shift = value = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def _fields(buf):
    """(field number, value) of a message: an int for a varint, bytes for the other wire types."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        elif wire == 2:
            size, i = _varint(buf, i)
            value, i = buf[i : i + size], i + size
        elif wire == 5:
            value, i = buf[i : i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield field, value


def _any_value(buf):
    """AnyValue: string 1, bool 2, int 3, double 4, array 5, kvlist 6, bytes 7."""
    for field, value in _fields(buf):
        if field == 1:
            return value.decode()
        if field == 2:
            return bool(value)
        if field == 3:
            return value - (1 << 64) if value >= 1 << 63 else value
        if field == 4:
            return struct.unpack("<d", value)[0]
        if field == 5:
            return [_any_value(item) for number, item in _fields(value) if number == 1]
        if field == 6:
            return _attributes(value, 1)
        if field == 7:
            return bytes(value)
    return None


def _attributes(buf, number):
    """The KeyValue list in field `number` of a message: {key (1): AnyValue (2)}."""
    found = {}
    for field, value in _fields(buf):
        if field == number:
            pair = dict(_fields(value))
            found[pair[1].decode()] = _any_value(pair.get(2, b""))
    return found


def spans(body):
    """ExportTraceServiceRequest: ResourceSpans (1) of Resource (1) and ScopeSpans (2) of Spans (2)."""
    found = []
    for field, resource_spans in _fields(body):
        if field != 1:
            continue
        parts = list(_fields(resource_spans))
        resource = next((_attributes(value, 1) for number, value in parts if number == 1), {})
        for scope_spans in (value for number, value in parts if number == 2):
            for span in (value for number, value in _fields(scope_spans) if number == 2):
                fields = list(_fields(span))
                name = next((value.decode() for number, value in fields if number == 5), "")
                kind = next((value for number, value in fields if number == 6), 0)
                found.append({"name": name, "kind": kind, "attributes": _attributes(span, 9), "resource": resource})
    return found


def listing_command(directory):
    """The shell command printing, for each export stored in ``directory``, its header digest and base64 body."""
    each = 'test -e "$f" && echo "$(cat ${f%.pb}.header) $(base64 -w0 "$f")"'
    return f"cd {directory} && for f in *.pb; do {each}; done; true"


def received(listing):
    """[(spans, sha256 of the header it came with)] of each export in ``listing`` (listing_command's output)."""
    return [(spans(base64.b64decode(body)), digest) for digest, body in (line.split() for line in listing.splitlines())]


def marked(received, marker):
    """[(span, digest)] of the received exports' spans whose request target or query holds `marker`.

    `received` is [(spans, digest)], one per export; old instrumentations name the target http.target,
    new ones url.query."""
    return [
        (span, digest)
        for exported, digest in received
        for span in exported
        if marker in str(span["attributes"].get("http.target", span["attributes"].get("url.query", "")))
    ]


def main():
    directory, port = sys.argv[1], int(sys.argv[2])
    header = sys.argv[3] if len(sys.argv) > 3 else ""
    os.makedirs(directory, exist_ok=True)
    counter = itertools.count(1)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path == "/v1/traces":
                number = next(counter)
                base = os.path.join(directory, f"{number:06d}")
                if header:
                    digest = hashlib.sha256((self.headers.get(header) or "").encode()).hexdigest()
                    with open(base + ".header.tmp", "w") as out:
                        out.write(digest)
                    os.replace(base + ".header.tmp", base + ".header")
                with open(base + ".pb.tmp", "wb") as out:
                    out.write(body)
                os.replace(base + ".pb.tmp", base + ".pb")
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args):
            pass

    ThreadingHTTPServer(("", port), Handler).serve_forever()


if __name__ == "__main__":
    main()

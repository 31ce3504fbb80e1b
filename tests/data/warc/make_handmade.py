#!/usr/bin/env python3
"""Writes handmade.warc: six hand-made WARC records (see README.md) with exact Content-Lengths.

Run from this directory: python3 make_handmade.py   (deterministic; rewrites handmade.warc)
"""


def record(version, fields, block):
    head = version + "\r\n"
    for line in fields:
        head += line + "\r\n"
    head += "Content-Length: %d\r\n\r\n" % len(block)
    return head.encode("utf-8") + block + b"\r\n\r\n"


WARCINFO = (b"software: hand-written for weir tests\r\n"
            b"format: WARC File Format 1.1\r\n"
            b"description: caf\xc3\xa9 \xe2\x98\x95\r\n")
REQUEST = (b"GET /index.html HTTP/1.1\r\n"
           b"Host: example.test\r\n"
           b"User-Agent: weir-test\r\n\r\n")
HTML = b"<html><head><title>Hand Made Page</title></head><body>hello</body></html>\n"
RESPONSE = (b"HTTP/1.1 200 OK\r\n"
            b"Content-Type: text/html\r\n"
            b"Content-Length: %d\r\n\r\n" % len(HTML)) + HTML
METADATA = b"via: http://example.test/\r\nhopsFromSeed: L\r\n"
# A PNG signature and IHDR start: 0x89 and the NUL bytes make it invalid UTF-8.
BINARY = bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D,
                0x49, 0x48, 0x44, 0x52, 0xFF, 0xFE, 0x80])

records = [
    record("WARC/1.1", ["WARC-Type: warcinfo",
                        "WARC-Date: 2024-05-01T10:00:00Z",
                        "WARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-000000000001>",
                        "WARC-Filename: handmade.warc",
                        "Content-Type: application/warc-fields"], WARCINFO),
    record("WARC/1.1", ["WARC-Type: request",
                        "WARC-Date: 2024-05-01T10:00:01.123456Z",
                        "WARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-000000000002>",
                        "WARC-Target-URI: http://example.test/index.html",
                        "Content-Type: application/http;msgtype=request"], REQUEST),
    # Lower-case required names, extra spaces around values, a repeated WARC-Concurrent-To.
    record("WARC/1.1", ["warc-type:   response  ",
                        "WARC-Date:2024-05-01T10:00:02Z",
                        "WARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-000000000003>",
                        "WARC-Target-URI: http://example.test/index.html",
                        "WARC-Concurrent-To: <urn:uuid:00000000-0000-4000-8000-000000000002>",
                        "WARC-Concurrent-To: <urn:uuid:00000000-0000-4000-8000-000000000009>",
                        "Content-Type: application/http;msgtype=response"], RESPONSE),
    # WARC/1.0 with continuation lines (a space and a tab) in two fields.
    record("WARC/1.0", ["WARC-Type: metadata",
                        "WARC-Date: 2024-05-01T10:00:03Z",
                        "WARC-Record-ID:",
                        " <urn:uuid:00000000-0000-4000-8000-000000000004>",
                        "WARC-Refers-To: <urn:uuid:00000000-0000-4000-8000-000000000003>",
                        "X-Note: first part",
                        "   second part",
                        "\tthird part",
                        "Content-Type: application/warc-fields"], METADATA),
    record("WARC/1.0", ["WARC-Type: resource",
                        "WARC-Date: 2024-05-01T10:00:04Z",
                        "WARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-000000000005>",
                        "WARC-Target-URI: http://example.test/image.png",
                        "Content-Type: image/png"], BINARY),
    # An empty block (Content-Length 0) is valid.
    record("WARC/1.1", ["WARC-Type: metadata",
                        "WARC-Date: 2024-05-01T10:00:05Z",
                        "WARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-000000000006>"], b""),
]

with open("handmade.warc", "wb") as f:
    for r in records:
        f.write(r)

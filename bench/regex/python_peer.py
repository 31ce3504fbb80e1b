#!/usr/bin/python3
"""The do-it-yourself peer of bench/regex: parse Apache combined logs with Python's `re`.

    python_peer.py --manifest DATA/manifest.txt --out OUT.jsonl

Applies the same regular expression as weir's `apache_combined` preset (RegexPresetPattern in
src/parse/builtin/regex_parser.cc, the segments concatenated), the same "-" -> null rule, and
writes the benchmark's columns as JSON lines (status and bytes as integers). Lines that do not
match are counted and written to stderr's summary, as weir writes error records. One process,
one core: what a quick script would do.
"""
import argparse
import json
import os
import re
import sys

APACHE_COMBINED = (
    r'(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] '
    r'"(?:(?P<method>[A-Za-z]+) (?P<path>(?:[^\s"\\]|\\.)[^\s"\\]*(?:\\.[^\s"\\]*)*)'
    r'(?: (?P<protocol>[^\s"]+))?|-)" (?P<status>\d{3}) '
    r'(?P<bytes>\d+|-) "(?P<referer>[^"\\]*(?:\\.[^"\\]*)*)" "(?P<user_agent>[^"\\]*(?:\\.[^"\\]*)*)"'
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    rx = re.compile(APACHE_COMBINED)
    base = os.path.dirname(os.path.abspath(args.manifest))
    with open(args.manifest, encoding="utf-8") as m:
        files = [l.strip() for l in m if l.strip() and not l.startswith("#")]
    rows = errors = 0
    dash = lambda v: None if v == "-" else v
    with open(args.out, "w", encoding="utf-8") as out:
        for name in files:
            with open(os.path.join(base, name), encoding="utf-8", errors="surrogateescape") as f:
                for line in f:
                    line = line.rstrip("\r\n")
                    if not line:
                        continue
                    mt = rx.fullmatch(line)
                    if mt is None:
                        errors += 1
                        continue
                    b = mt.group("bytes")
                    out.write(json.dumps({
                        "client": mt.group("client"),
                        "time": mt.group("time"),
                        "method": mt.group("method"),
                        "path": mt.group("path"),
                        "status": int(mt.group("status")),
                        "bytes": None if b == "-" else int(b),
                        "referer": dash(mt.group("referer")),
                        "user_agent": dash(mt.group("user_agent")),
                    }))
                    out.write("\n")
                    rows += 1
    json.dump({"rows": rows, "errors": errors}, sys.stdout)
    print()


if __name__ == "__main__":
    main()

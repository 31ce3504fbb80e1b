#!/usr/bin/env python3
"""Posts JSON-lines events to a weir HTTP collector in batches, at a steady rate, for the demo.

usage: post_events.py URL FILE [--batch N] [--rate EVENTS_PER_SECOND] [--seconds S]
Prints one line per second: events sent and acknowledged so far.
"""
import argparse
import http.client
import sys
import time
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("file")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--rate", type=int, default=5000)
    ap.add_argument("--seconds", type=float, default=5)
    a = ap.parse_args()
    with open(a.file, "rb") as f:
        lines = [l for l in f.read().split(b"\n") if l.strip()]
    u = urllib.parse.urlparse(a.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    start = time.monotonic()
    sent = acked = 0
    next_report = 1.0
    while sent < len(lines) and time.monotonic() - start < a.seconds:
        body = b"\n".join(lines[sent:sent + a.batch]) + b"\n"
        conn.request("POST", u.path, body, {"Content-Type": "application/x-ndjson"})
        r = conn.getresponse()
        r.read()
        n = min(a.batch, len(lines) - sent)
        sent += n
        if r.status == 200:
            acked += n
        elif r.status == 429:
            time.sleep(float(r.getheader("Retry-After", "1")))
        else:
            print(f"collector answered {r.status}", file=sys.stderr)
        # Hold the rate: sleep until this many events are due.
        due = start + sent / a.rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        if now - start >= next_report:
            print(f"  {now - start:4.1f}s  posted {sent:,} events, {acked:,} acknowledged", flush=True)
            next_report += 1.0
    print(f"  done: posted {sent:,} events, {acked:,} acknowledged (200 = durable in weir's log)")
    return 0 if acked == sent else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Steady Kafka producer and visibility probe for bench/kafka/latency.sh (standard library only).

    steady.py POOL_JSONL BOOTSTRAP METRICS_URL RATE SECONDS OUT_JSON [live]

With `live`, each event's meta.created_at is the time it is handed to kcat (live traffic: the
events of a second fall into today's partitions) instead of the pool's (spread over 7 days).

Pipes events from POOL_JSONL (cycled; from the second pass on every id gets a "p<pass>-" prefix,
so each event is unique) into `kcat -P -t events` (each message to a random partition: a steady
flow into every partition) at RATE events/s for SECONDS, in 10 ms slices. Meanwhile GET METRICS_URL every
0.1 s: weir's committed count (weir_records_total written + errored) rises when a commit is in
the lake. Event k (in production order) counts as visible at the first sample whose committed
count is >= k: this treats the production order as the commit order, which holds across
partitions only up to the records one commit splits. After the load it waits (up to 120 s) until
everything produced is committed, then writes percentiles of (visible - produced) to OUT_JSON.
"""
import json
import re
import subprocess
import sys
import threading
import time
import urllib.request


def committed(url):
    try:
        text = urllib.request.urlopen(url, timeout=2).read().decode()
    except OSError:
        return None
    n = 0
    for outcome in ("written", "errored"):
        m = re.search(r'^weir_records_total\{[^}]*outcome="%s"[^}]*\} ([0-9.e+]+)$' % outcome, text, re.M)
        if m:
            n += int(float(m.group(1)))
    return n


def main():
    pool_path, bootstrap, url, rate, seconds, out = sys.argv[1:7]
    live = len(sys.argv) > 7 and sys.argv[7] == "live"
    rate, seconds = int(rate), float(seconds)
    pool = [l for l in open(pool_path, "rb").read().split(b"\n") if l.strip()]
    # Each line split around its created_at value, so a live time is two concatenations.
    stamp = re.compile(rb'("created_at":)(\d+)')
    pool_parts = [stamp.split(l, maxsplit=1) for l in pool] if live else None
    # Each message to a partition of its own choosing, as events keyed by user would be. The
    # messages have no key, and librdkafka's sticky partitioner (the default for those) sends
    # everything for 10 ms to one partition picked at random: a partition then gets nothing for
    # up to a second at a time, and a rules watermark, the minimum over the partitions, waits
    # for it (bench/rules/latency.sh, commit_interval 1 s: a p99 of at most 5 s that way, at
    # most 2.5 s here).
    kcat = subprocess.Popen(["kcat", "-P", "-b", bootstrap, "-t", "events",
                             "-X", "sticky.partitioning.linger.ms=0"], stdin=subprocess.PIPE)
    samples = []  # (time, committed)
    stop = threading.Event()

    def probe():
        while not stop.is_set():
            n = committed(url)
            if n is not None:
                samples.append((time.time(), n))
            time.sleep(0.1)

    base = committed(url) or 0
    t = threading.Thread(target=probe, daemon=True)
    t.start()
    marks = []  # (events produced so far, time the slice was handed to kcat)
    produced, i, passno = 0, 0, 0
    start = time.time()
    slice_events = max(1, rate // 100)
    while time.time() - start < seconds:
        chunk = []
        now_ms = b"%d" % int(time.time() * 1000)
        for _ in range(slice_events):
            if live:
                before, key, _, after = pool_parts[i]
                line = before + key + now_ms + after
            else:
                line = pool[i]
            if passno > 0:
                line = line.replace(b'"id":"', b'"id":"p%d-' % passno, 1)
            chunk.append(line)
            i += 1
            if i == len(pool):
                i, passno = 0, passno + 1
        kcat.stdin.write(b"\n".join(chunk) + b"\n")
        kcat.stdin.flush()
        produced += len(chunk)
        marks.append((produced, time.time()))
        next_at = start + len(marks) * 0.01
        delay = next_at - time.time()
        if delay > 0:
            time.sleep(delay)
    load_s = time.time() - start
    kcat.stdin.close()
    kcat.wait()
    deadline = time.time() + 120
    while time.time() < deadline and (not samples or samples[-1][1] - base < produced):
        time.sleep(0.1)
    stop.set()
    t.join()
    # Latency of each slice's events, weighted by events.
    lat = []
    j = 0
    for n, at in marks:
        while j < len(samples) and samples[j][1] - base < n:
            j += 1
        if j == len(samples):
            break
        lat.append(samples[j][0] - at)
    lat.sort()
    pct = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))], 2) if lat else None
    res = {"rate": rate, "seconds": seconds, "produced": produced, "achieved_rate": round(produced / load_s),
           "committed": (samples[-1][1] - base) if samples else 0,
           "visible_p50_s": pct(0.50), "visible_p90_s": pct(0.90), "visible_p99_s": pct(0.99),
           "visible_max_s": round(lat[-1], 2) if lat else None, "load_start": start, "load_end": start + load_s}
    json.dump(res, open(out, "w"), indent=1)
    print(json.dumps(res))
    return 0 if res["committed"] >= produced else 1


if __name__ == "__main__":
    sys.exit(main())

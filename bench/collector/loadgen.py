#!/usr/bin/python3
"""Load generator of the collector benchmark (bench/collector/run.sh); standard library only.

  loadgen.py --url http://127.0.0.1:PORT/v1/events --data DIR --json OUT
             [--threads 4] [--batch 500] [--duration 20] [--metrics URL]
             [--weir BIN --dataset YAML [--poll 0.25] [--query-poll 0]] [--drain-timeout 180]

What it does:
1. Reads the JSON lines of DIR/*.jsonl (`weir gen events` output: the pool) and cuts them into
   bodies of --batch lines. Request i sends body i % n; from the pool's second pass on, every
   "id" of the body gets the prefix "p<pass>-", so every event sent has its own id however long
   the run is (a plain bytes.replace: the client's cost per request stays small).
2. --threads threads, each with one keep-alive connection (http.client), POST bodies as fast as
   they are answered for --duration seconds. A 200 counts its "accepted" events; a 429 is counted
   and the thread sleeps for Retry-After (the documented client behaviour; that body was not
   stored and is not sent again: its ids are simply never acknowledged). Any other answer or a
   transport error is counted as a failure (the benchmark then cannot check exactness).
3. While it runs, and afterwards until the table holds every acknowledged event (or
   --drain-timeout), it records what a reader sees:
   - every --poll s, the row count of the table's current snapshot (`weir lake snapshots
     --json`: the store's pointer that `weir query` reads, and the snapshot's total-records;
     ~30 ms, it opens no data file);
   - every --query-poll s (off by default), `weir query "SELECT count(*)"`: the reader's own
     count, but it opens every data file's footer, which takes seconds once the partitioned
     table holds tens of thousands of small files, and competes with weir for the 2 cores;
   - every 0.25 s, GET /metrics (records written = committed by this process, commits, backlog).
4. Writes --json: throughput, request latency percentiles (time from sending the request to the
   whole 200 answer), 429s, failures, the acknowledged-count curve turned into visibility lags
   (see visibility() below), the client's own CPU seconds and its probes' (child processes').
"""
import argparse
import glob
import http.client
import itertools
import json
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request


def load_pool(data_dir, batch):
    lines = []
    for path in sorted(glob.glob(os.path.join(data_dir, "*.jsonl"))):
        with open(path, "rb") as f:
            lines.extend(l for l in f.read().split(b"\n") if l.strip())
    if not lines:
        sys.exit(f"loadgen: no JSON lines under {data_dir}")
    bodies = [b"\n".join(lines[i:i + batch]) + b"\n" for i in range(0, len(lines) - batch + 1, batch)]
    if not bodies:
        sys.exit(f"loadgen: fewer than {batch} lines under {data_dir}")
    return bodies, len(lines)


ID_KEY = b'{"data":{"id":"'


def body_for(bodies, i):
    n = len(bodies)
    body = bodies[i % n]
    p = i // n
    return body if p == 0 else body.replace(ID_KEY, ID_KEY + b"p%d-" % p)


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(q / 100.0 * (len(sorted_values) - 1)))))
    return sorted_values[k]


def weighted_percentile(pairs, q):
    """pairs: (value, weight), any order -> the value below which q% of the weight lies."""
    if not pairs:
        return None
    pairs = sorted(pairs)
    total = sum(w for _, w in pairs)
    need = q / 100.0 * total
    acc = 0
    for v, w in pairs:
        acc += w
        if acc >= need:
            return v
    return pairs[-1][0]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.acks = []        # (time of the 200, accepted events)
        self.latencies = []   # seconds, 200 answers only
        self.throttled = 0
        self.failures = []    # descriptions
        self.requests = 0
        self.reconnects = 0


def poster(url, bodies, counter, deadline, stats, expect):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    headers = {"Content-Type": "application/x-ndjson"}
    acks, lat = [], []
    throttled = 0
    failures = []
    requests = 0
    while time.monotonic() < deadline:
        i = next(counter)  # atomic under the GIL
        body = body_for(bodies, i)
        t0 = time.monotonic()
        try:
            conn.request("POST", u.path, body, headers)
            r = conn.getresponse()
            answer = r.read()
        except (OSError, http.client.HTTPException) as e:
            failures.append(f"request {i}: {type(e).__name__}: {e}")
            conn.close()
            with stats.lock:
                stats.reconnects += 1
            continue
        t1 = time.monotonic()
        requests += 1
        if r.status == 200:
            n = json.loads(answer)["accepted"]
            if n != expect:
                failures.append(f"request {i}: accepted {n}, sent {expect} valid lines: {answer[:200]!r}")
            acks.append((t1, n))
            lat.append(t1 - t0)
        elif r.status == 429:
            throttled += 1
            wait = float(r.getheader("Retry-After", "1") or 1)
            time.sleep(max(0.0, min(wait, deadline - time.monotonic())))
        else:
            failures.append(f"request {i}: HTTP {r.status}: {answer[:200]!r}")
        if r.will_close:
            with stats.lock:
                stats.reconnects += 1
    conn.close()
    with stats.lock:
        stats.acks += acks
        stats.latencies += lat
        stats.throttled += throttled
        stats.failures += failures
        stats.requests += requests


def run_wrk(a, bodies, deadline, stats):
    """--client wrk: the same load from wrk (wrk_post.lua), one connection per wrk thread.

    Thread t sends bodies t, t + N, t + 2N, ... (its own ids, so the "p<pass>-" prefixes of
    different threads never collide). The script's per-thread answer files fill `stats` as this
    script's own threads would. Returns wrk's summary and its CPU seconds."""
    work = a.work or os.path.join(os.path.dirname(os.path.abspath(a.json)), "wrk")
    os.makedirs(work, exist_ok=True)
    for name in os.listdir(work):
        os.remove(os.path.join(work, name))
    for t in range(a.threads):
        share = bodies[t::a.threads]
        if not share:
            sys.exit(f"loadgen: fewer bodies than --threads {a.threads}")
        with open(os.path.join(work, f"bodies-{t}.txt"), "wb") as f:
            f.write(b"\n".join(share))  # each body ends with a newline: an empty line between
    env = dict(os.environ, WRK_BODIES=work, WRK_DEADLINE=repr(deadline),
               WRK_PATH=urllib.parse.urlsplit(a.url).path,
               WRK_SUMMARY=os.path.join(work, "summary.json"))
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wrk_post.lua")
    # -d only bounds a stuck run: each thread stops itself at its first answer after the deadline.
    cmd = ["wrk", "-t", str(a.threads), "-c", str(a.threads), "-d", f"{int(a.duration) + 60}s",
           "--timeout", "30s", "-s", script, a.url]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    done = [os.path.join(work, f"acks-{t}.done") for t in range(a.threads)]
    while proc.poll() is None and not all(os.path.exists(d) for d in done):
        time.sleep(0.05)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # wrk prints its summary and runs done() on SIGINT
    _, status, usage = os.wait4(proc.pid, 0)
    output = proc.stdout.read().decode(errors="replace")
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        stats.failures.append(f"wrk exited with {proc.returncode}: {output[-400:]}")
    for t in range(a.threads):
        if not os.path.exists(done[t]):
            stats.failures.append(f"wrk thread {t} did not reach the deadline (transport errors?)")
        with open(os.path.join(work, f"acks-{t}.txt")) as f:
            for line in f:
                kind, _, rest = line.rstrip("\n").partition(" ")
                stats.requests += 1
                if kind == "A":
                    at, n, lat = rest.split(" ")
                    if int(n) != a.batch:
                        stats.failures.append(f"wrk thread {t}: accepted {n}, sent {a.batch} valid lines")
                    stats.acks.append((float(at), int(n)))
                    stats.latencies.append(float(lat))
                elif kind == "R":
                    stats.throttled += 1
                else:
                    stats.failures.append(f"wrk thread {t}: HTTP {rest[:200]}")
    summary = {}
    try:
        with open(env["WRK_SUMMARY"]) as f:
            summary = json.load(f)
    except (OSError, ValueError) as e:
        stats.failures.append(f"wrk wrote no summary: {e}")
    errs = summary.get("errors", {})
    sockets = sum(errs.get(k, 0) for k in ("connect", "read", "write", "timeout"))
    if sockets:
        stats.failures.append(f"wrk socket errors: {errs}")
    return {"summary": summary, "cpu_s": usage.ru_utime + usage.ru_stime,
            "output": output.strip().splitlines()[-12:]}


METRIC_RE = re.compile(r'^(weir_[a-z_]+)(\{[^}]*\})? ([0-9.eE+-]+|NaN|\+Inf)$')


def scrape(metrics_url):
    with urllib.request.urlopen(metrics_url, timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = METRIC_RE.match(line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out, text


def written(sample):
    return next((v for k, v in sample.items()
                 if k.startswith("weir_records_total{") and 'outcome="written"' in k), 0.0)


def snapshot_count(weir, dataset):
    """Rows of the table's current snapshot (what `weir query` and Iceberg readers see): the
    store's pointer and the snapshot summary, without opening data files."""
    r = subprocess.run([weir, "lake", "snapshots", dataset, "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        return 0 if "no snapshot" in (r.stdout + r.stderr).lower() else None
    try:
        snaps = json.loads(r.stdout)["snapshots"]
    except (ValueError, KeyError):
        return None
    return next((int(x["total_records"]) for x in snaps if x.get("current")), 0)


def query_count(weir, dataset):
    """count(*) through `weir query` (DuckDB over the current snapshot's data files)."""
    r = subprocess.run([weir, "query", dataset, "SELECT count(*) AS n FROM events", "--format", "csv"],
                       capture_output=True, text=True)
    lines = r.stdout.strip().splitlines()
    if r.returncode != 0 or len(lines) != 2 or lines[0] != "n":
        return None
    return int(lines[1])


def visibility(acks, samples):
    """Lag between an event's 200 and the first reader sample that sees it.

    acks: (time, n) sorted by time, so event rank k (1-based, in acknowledgement order) was
    acknowledged at the time of the ack whose cumulative count first reaches k. samples:
    (start, end, count) of reads of the table, sorted by start. A table commit makes a prefix of
    the log visible, and the log's order is the acknowledgement order up to requests acknowledged
    in the same group commit, so rank k is visible once a read returns a count >= k.
    A sample reads the table somewhere between its start and its end, so for the ack batch ending
    at rank k: upper bound = end of the first sample with count >= k; lower bound = start of the
    sample before it (which did not see k yet; 0 when k was already visible at the ack).
    Returns per-batch (lo, hi, weight) lags and how many acked events no sample saw.
    """
    out = []
    unseen = 0
    cum = 0
    j = 0
    for t, n in acks:
        cum += n
        while j < len(samples) and samples[j][2] < cum:
            j += 1
        if j == len(samples):
            unseen += n
            continue
        hi = samples[j][1] - t
        lo = max(0.0, samples[j - 1][0] - t) if j > 0 else 0.0
        out.append((max(lo, 0.0), max(hi, 0.0), n))
    return out, unseen


def lag_summary(acks, samples, how):
    vis, unseen = visibility(acks, samples)
    return {
        "how": how,
        "samples": len(samples),
        "probe_seconds_p50": percentile(sorted(s[1] - s[0] for s in samples), 50),
        "p50_lo": weighted_percentile([(l, w) for l, _, w in vis], 50),
        "p50_hi": weighted_percentile([(h, w) for _, h, w in vis], 50),
        "p99_lo": weighted_percentile([(l, w) for l, _, w in vis], 99),
        "p99_hi": weighted_percentile([(h, w) for _, h, w in vis], 99),
        "max_hi": max((h for _, h, _ in vis), default=None),
        "unseen_events": unseen,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--metrics", default="")
    ap.add_argument("--weir", default="")
    ap.add_argument("--dataset", default="")
    ap.add_argument("--poll", type=float, default=0.25,
                    help="seconds between reads of the current snapshot (0: off)")
    ap.add_argument("--query-poll", type=float, default=0.0,
                    help="seconds between `weir query count(*)` runs (0: off)")
    ap.add_argument("--drain-timeout", type=float, default=180.0)
    ap.add_argument("--client", choices=["python", "wrk"], default="python",
                    help="who sends: this script's threads, or wrk with wrk_post.lua")
    ap.add_argument("--work", default="",
                    help="--client wrk: folder for the per-thread bodies and answers")
    a = ap.parse_args()
    probing = bool(a.weir and a.dataset)

    bodies, pool_lines = load_pool(a.data, a.batch)
    pool_bytes = sum(len(b) for b in bodies)
    print(f"loadgen: pool of {len(bodies)} bodies x {a.batch} events ({pool_bytes / 1e6:.1f} MB); "
          f"{a.threads} connections for {a.duration:g} s", flush=True)

    stats = Stats()
    stop_watch = threading.Event()
    snap_samples = []   # weir lake snapshots: (start, end, rows of the current snapshot)
    query_samples = []  # weir query count(*): (start, end, count)
    metric_rows = []    # (time, written, commits, lag bytes)
    watch_errors = []

    def probe_loop(fn, every, into, name):
        while not stop_watch.is_set():
            t0 = time.monotonic()
            c = fn(a.weir, a.dataset)
            t1 = time.monotonic()
            if c is None:
                watch_errors.append(f"{name} failed at +{t0 - start:.1f}s")
            else:
                into.append((t0, t1, c))
            stop_watch.wait(max(0.0, every - (t1 - t0)))

    def metrics_loop():
        while not stop_watch.is_set():
            t = time.monotonic()
            try:
                s, _ = scrape(a.metrics)
                metric_rows.append((t, written(s),
                                    next((v for k, v in s.items() if k.startswith("weir_commits_total")), 0.0),
                                    next((v for k, v in s.items() if k.startswith("weir_stream_lag_bytes")), 0.0)))
            except OSError as e:
                watch_errors.append(f"/metrics failed: {e}")
            stop_watch.wait(0.25)

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    watchers = []
    if probing and a.poll > 0:
        watchers.append(threading.Thread(target=probe_loop, daemon=True,
                                         args=(snapshot_count, a.poll, snap_samples, "weir lake snapshots")))
    if probing and a.query_poll > 0:
        watchers.append(threading.Thread(target=probe_loop, daemon=True,
                                         args=(query_count, a.query_poll, query_samples, "weir query")))
    if a.metrics:
        watchers.append(threading.Thread(target=metrics_loop, daemon=True))
    for w in watchers:
        w.start()
    deadline = start + a.duration
    counter = itertools.count()
    threads = [] if a.client == "wrk" else [threading.Thread(target=poster, args=(a.url, bodies, counter, deadline, stats, a.batch))
               for _ in range(a.threads)]
    wrk_result = None
    if a.client == "wrk":
        wrk_result = run_wrk(a, bodies, deadline, stats)
    else:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    load_end = time.monotonic()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    stats.acks.sort()
    acked = sum(n for _, n in stats.acks)
    last_ack = stats.acks[-1][0] if stats.acks else load_end
    print(f"loadgen: load done: {acked:,} events acknowledged in {load_end - start:.1f} s; "
          f"waiting for the table to hold them", flush=True)

    # Drain: until the current snapshot holds every acknowledged event (or, without the snapshot
    # probe, until /metrics says they are committed).
    drained_at = None
    drain_deadline = time.monotonic() + a.drain_timeout
    while time.monotonic() < drain_deadline:
        if probing and a.poll > 0:
            if snap_samples and snap_samples[-1][2] >= acked:
                drained_at = snap_samples[-1][1]
                break
        elif metric_rows and metric_rows[-1][1] >= acked:
            drained_at = metric_rows[-1][0]
            break
        time.sleep(0.05)
    # One more query sample after the drain, so the count(*) probe sees the end too.
    time.sleep(a.query_poll if a.query_poll > 0 else 0)
    stop_watch.set()
    for w in watchers:
        w.join(timeout=120)
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    final_metrics = ""
    if a.metrics:
        try:
            _, final_metrics = scrape(a.metrics)
        except OSError as e:
            watch_errors.append(f"/metrics failed: {e}")

    lat = sorted(stats.latencies)
    # The load window: from the first request to the end of the last one (a thread throttled by
    # a 429 sleeps until the deadline, so the window is never shorter than --duration).
    span = max(load_end, last_ack) - start
    ev_bytes = pool_bytes / (len(bodies) * a.batch)
    res = {
        "threads": a.threads, "batch": a.batch, "duration_s": a.duration,
        "pool": {"bodies": len(bodies), "lines": pool_lines, "bytes": pool_bytes},
        "requests": stats.requests, "acked_requests": len(stats.acks), "acked_events": acked,
        "throttled_429": stats.throttled, "failures": len(stats.failures),
        "failure_examples": stats.failures[:5], "reconnects": stats.reconnects,
        "load_seconds": span,
        "acked_events_per_s": acked / span if span > 0 else None,
        "acked_mb_per_s": acked * ev_bytes / span / 1e6 if span > 0 else None,
        "latency_s": {"p50": percentile(lat, 50), "p90": percentile(lat, 90), "p99": percentile(lat, 99),
                      "p999": percentile(lat, 99.9), "max": lat[-1] if lat else None},
        "drained": drained_at is not None,
        "drain_seconds_after_load": (drained_at - load_end) if drained_at else None,
        "lake_events_per_s": acked / (drained_at - start) if drained_at else None,
        "visible_s": lag_summary(
            stats.acks, snap_samples,
            "per acknowledged request: from its 200 to the first read of the table's current "
            "snapshot (weir lake snapshots --json: the store's pointer that weir query reads, and "
            "the snapshot's total-records) that includes it. hi = that read's end; lo = the start "
            "of the read before it (which did not include it yet). Percentiles weighted by events"),
        "query_visible_s": lag_summary(
            stats.acks, query_samples,
            "as visible_s, with `weir query \"SELECT count(*)\"` as the read (DuckDB over the "
            "snapshot's data files)") if query_samples else None,
        "committed_s": lag_summary(
            stats.acks, [(t, t, w) for t, w, _, _ in metric_rows],
            "per acknowledged request: from its 200 to the first GET /metrics sample (every 0.25 s) "
            "whose weir_records_total{outcome=written} includes it"),
        "max_lag_bytes": max((r[3] for r in metric_rows), default=None),
        "commits": metric_rows[-1][2] if metric_rows else None,
        "client": a.client,
        "client_cpu_s": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
                        + (wrk_result["cpu_s"] if wrk_result else 0.0),
        "probe_cpu_s": (kids1.ru_utime - kids0.ru_utime) + (kids1.ru_stime - kids0.ru_stime)
                       - (wrk_result["cpu_s"] if wrk_result else 0.0),
        "wrk": wrk_result,
        "watch_errors": watch_errors[:5],
    }
    with open(a.json, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    if final_metrics:
        with open(os.path.splitext(a.json)[0] + ".metrics.txt", "w") as f:
            f.write(final_metrics)
    print(f"loadgen: wrote {a.json}", flush=True)
    sys.exit(1 if stats.failures else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""kill -9 soak of the HTTP collector (bench/stream_soak/run.sh); standard library only.

  soak.py --weir BIN --dataset YAML --url URL --out DIR [--trials 20] [--clients 3]
          [--batch 200] [--seed 1] [--min-kill 0.3] [--max-kill 2.0]

Each trial starts `weir run DATASET` (log appended to DIR/weir.log), waits for /healthz, lets
--clients threads POST numbered events (ids "e<n>", unique over the whole soak) over keep-alive
connections as fast as they are answered, and kills weir with SIGKILL after a random 0.3-2 s
(seeded). Every 4th batch also carries malformed lines, each with a unique marker:
  BAD-<m> ...            not JSON: the 200's "errors" lists it, it becomes an error record
  {"id":"BADT-<m>","ts":"yesterday",...}   valid JSON, wrong type for ts: accepted, then an error record
  {"marker":"BADM-<m>","ts":...}           valid JSON without the required id: likewise
Every request ends as acknowledged (200: checked against what was sent), refused (another
status: nothing stored) or unknown (no answer: killed mid-request; may or may not be stored).
After each kill, `weir query` (which reads only committed, published files) must show
count(*) == count(DISTINCT id) and no more rows than were sent.

Writes DIR/acked_ids.txt, DIR/sent_ids.txt (one id a line; sent = acknowledged + unknown +
refused), DIR/acked_bad.txt, DIR/sent_bad.txt (markers) and DIR/soak.json (per-trial figures).
Exit status 1 when a trial's check failed (the final checks are run.sh's).
"""
import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

BASE_TS = 1764000000000  # 2025-11-24T16:00:00Z
DAY_MS = 86400000


class Ledger:
    """What was sent and what was answered, shared by the client threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.next_id = 0
        self.next_bad = 0
        self.batches = 0
        self.acked_ids, self.sent_ids = [], []
        self.acked_bad, self.sent_bad = [], []
        self.problems = []

    def new_batch(self, size):
        with self.lock:
            first = self.next_id
            self.next_id += size
            self.batches += 1
            bad = None
            if self.batches % 4 == 0:
                bad = self.next_bad
                self.next_bad += 3
        return first, bad


def make_body(first, size, bad):
    lines = []
    for n in range(first, first + size):
        lines.append('{"id":"e%d","ts":%d,"n":%d}' % (n, BASE_TS + (n % 3) * DAY_MS + n % 1000, n))
    markers = []
    if bad is not None:
        markers = ["BAD-%d" % bad, "BADT-%d" % (bad + 1), "BADM-%d" % (bad + 2)]
        # Spread them through the body (not first, so the body always has a valid record).
        lines.insert(1, markers[0] + ' this line is not JSON {"id":')
        lines.insert(len(lines) // 2, '{"id":"%s","ts":"yesterday","n":0}' % markers[1])
        lines.append('{"marker":"%s","ts":%d,"n":0}' % (markers[2], BASE_TS))
    return ("\n".join(lines) + "\n").encode(), markers


def client(url, size, ledger, stop, trial_stats):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    while not stop.is_set():
        first, bad = ledger.new_batch(size)
        body, markers = make_body(first, size, bad)
        ids = ["e%d" % n for n in range(first, first + size)]
        try:
            conn.request("POST", u.path, body, {"Content-Type": "application/x-ndjson"})
            r = conn.getresponse()
            answer = r.read()
        except (OSError, http.client.HTTPException):
            # Killed mid-request (or refused after the kill): unknown, maybe stored.
            conn.close()
            with ledger.lock:
                ledger.sent_ids += ids
                ledger.sent_bad += markers
                trial_stats["unknown"] += 1
            if stop.is_set():
                break
            time.sleep(0.01)
            continue
        with ledger.lock:
            ledger.sent_ids += ids
            ledger.sent_bad += markers
            if r.status == 200:
                a = json.loads(answer)
                # Valid JSON objects are accepted (the wrong-typed and the id-less lines too: the
                # columns reject them later); only the not-JSON line is listed in "errors".
                want_accepted = size + (2 if markers else 0)
                want_errors = 1 if markers else 0
                if a.get("accepted") != want_accepted or len(a.get("errors", [])) != want_errors:
                    ledger.problems.append(f"batch e{first}: answer {answer[:300]!r}, expected "
                                           f"accepted {want_accepted}, {want_errors} error(s)")
                ledger.acked_ids += ids
                ledger.acked_bad += markers
                trial_stats["acked"] += 1
                trial_stats["acked_events"] += size
                trial_stats["acked_bad"] += len(markers)
            else:
                trial_stats["refused"] += 1
                trial_stats.setdefault("statuses", {}).setdefault(str(r.status), 0)
                trial_stats["statuses"][str(r.status)] += 1
        if r.status == 429:
            time.sleep(float(r.getheader("Retry-After", "1") or 1))
    conn.close()


def healthy(url):
    u = urllib.parse.urlsplit(url)
    try:
        with urllib.request.urlopen(f"http://{u.hostname}:{u.port}/healthz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def weir_query_row(weir, dataset, sql):
    """The first row of `weir query --format json` (JSON lines), or None and why."""
    r = subprocess.run([weir, "query", dataset, sql, "--format", "json"], capture_output=True, text=True)
    if r.returncode != 0:
        return None, (r.stderr or r.stdout).strip()[-500:]
    try:
        return json.loads(r.stdout.splitlines()[0]), ""
    except (ValueError, IndexError) as e:
        return None, f"not a JSON line: {e}: {r.stdout[:200]!r}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weir", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--clients", type=int, default=3)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--min-kill", type=float, default=0.3)
    ap.add_argument("--max-kill", type=float, default=2.0)
    a = ap.parse_args()

    rng = random.Random(a.seed)
    ledger = Ledger()
    trials = []
    failed = False
    log = open(os.path.join(a.out, "weir.log"), "ab")
    prev_rows = 0
    for trial in range(1, a.trials + 1):
        log.write(f"\n==== trial {trial}\n".encode())
        log.flush()
        t_start = time.monotonic()
        proc = subprocess.Popen([a.weir, "run", a.dataset, "--no-progress"], stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and not healthy(a.url):
            time.sleep(0.02)
        if proc.poll() is not None or not healthy(a.url):
            print(f"trial {trial:2d}: FAIL: weir did not start (exit {proc.poll()}); see {a.out}/weir.log",
                  flush=True)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            failed = True
            break
        ready = time.monotonic() - t_start
        stats = {"acked": 0, "acked_events": 0, "acked_bad": 0, "refused": 0, "unknown": 0}
        stop = threading.Event()
        threads = [threading.Thread(target=client, args=(a.url, a.batch, ledger, stop, stats))
                   for _ in range(a.clients)]
        kill_after = rng.uniform(a.min_kill, a.max_kill)
        t0 = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(max(0.0, kill_after - (time.monotonic() - t0)))
        os.kill(proc.pid, signal.SIGKILL)
        killed_at = time.monotonic() - t0
        proc.wait()
        stop.set()
        for t in threads:
            t.join()
        # What a reader sees now (committed and published files only): no duplicate, nothing
        # beyond what was sent, and never fewer rows than after the previous kill.
        q, err = weir_query_row(a.weir, a.dataset,
                                "SELECT count(*) AS n, count(DISTINCT id) AS ids FROM events")
        problems = []
        rows = ids = None
        if q is None:
            problems.append(f"weir query failed: {err}")
        else:
            rows, ids = int(q["n"]), int(q["ids"])
            if rows != ids:
                problems.append(f"{rows - ids} duplicate row(s) visible")
            if rows > len(ledger.sent_ids):
                problems.append(f"{rows} rows but only {len(ledger.sent_ids)} events sent")
            if rows < prev_rows:
                problems.append(f"rows went down from {prev_rows} to {rows}")
            prev_rows = rows
        with ledger.lock:
            problems += ledger.problems
            ledger.problems = []
        ok = not problems
        failed |= not ok
        t = dict(stats, trial=trial, ready_s=round(ready, 3), kill_after_s=round(killed_at, 3),
                 visible_rows=rows, ok=ok, problems=problems)
        trials.append(t)
        print(f"trial {trial:2d}: {'ok  ' if ok else 'FAIL'} up in {ready:.2f} s, SIGKILL after "
              f"{killed_at:.2f} s; {stats['acked']} acked requests ({stats['acked_events']:,} events, "
              f"{stats['acked_bad']} malformed lines), {stats['unknown']} unanswered, "
              f"{stats['refused']} refused {json.dumps(stats.get('statuses', {}))}; table shows "
              f"{'?' if rows is None else format(rows, ',')} rows" + ("" if ok else "; " + "; ".join(problems)),
              flush=True)
    log.close()

    def dump(name, items):
        with open(os.path.join(a.out, name), "w") as f:
            f.write("\n".join(items) + ("\n" if items else ""))

    dump("acked_ids.txt", ledger.acked_ids)
    dump("sent_ids.txt", ledger.sent_ids)
    dump("acked_bad.txt", ledger.acked_bad)
    dump("sent_bad.txt", ledger.sent_bad)
    with open(os.path.join(a.out, "soak.json"), "w") as f:
        json.dump({"trials": trials, "acked_events": len(ledger.acked_ids), "sent_events": len(ledger.sent_ids),
                   "acked_bad": len(ledger.acked_bad), "sent_bad": len(ledger.sent_bad),
                   "trials_failed": sum(1 for t in trials if not t["ok"]), "seed": a.seed}, f, indent=1)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

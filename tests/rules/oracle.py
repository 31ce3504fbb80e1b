#!/usr/bin/env python3
"""Independent oracle for the rules engine: the contract of docs/rules.md ("The contract").

  oracle.py gen --dir DIR --seed N --events K --files F   write DIR/data/part-NNN.jsonl + manifest.txt
  oracle.py expect --dir DIR [--ooo-ms MS]               derived records on stdout (sorted JSON lines)
  oracle.py selftest                                      the timelines of docs/rules.md

Written from docs/rules.md only (no engine code). Standard library only. The three rules are
hard-coded: meeting_accepted, meeting_reminder (key meeting_id) and seller_level (key user_id).

Why "drop late records, stable-sort by event time, run" equals the incremental semantics:
a record is late iff t < W, W = (max event time of the records that arrived before) - 5s, which
depends only on arrival order, so lateness is computed first, in arrival order. The engine
processes everything with time < W in the order (time, records before timers, arrival). A record
that is not late has t >= W >= every W before it, so it sorts after every record or timer already
processed (those have time < an earlier W <= t); hence the incremental engine processes exactly the
non-late records, plus the timers they create, in the total order (time, records before timers,
arrival). At end of input W = +infinity flushes everything, so the result does not depend on
when W passed each item. A stable sort by time keeps arrival order for equal times; timers due
strictly before a record fire before it, timers at the record's time after it.
"""
import argparse, calendar, collections, heapq, json, os, random, sys
from datetime import datetime, timedelta

SEC, MIN, HOUR, DAY = 1000, 60 * 1000, 3600 * 1000, 86400 * 1000
OOO = 5 * SEC                 # out_of_orderness
ACCEPT_WITHIN = 48 * HOUR     # meeting_accepted: step 2 within
REMIND_WITHIN = 1 * HOUR      # meeting_reminder: absent within
WINDOW = 7 * DAY              # seller_level window
BASE = calendar.timegm((2025, 11, 1, 0, 0, 0, 0, 0, 0)) * 1000
EPOCH = datetime(1970, 1, 1)
PROPOSAL, ACCEPTED, LISTING = 'meeting_proposal', 'meeting_accepted', 'listing_created'


def iso(ms):
    return (EPOCH + timedelta(milliseconds=ms)).strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % (ms % 1000)


def parse_ts(s):
    for fmt in ('%Y-%m-%dT%H:%M:%S.%fZ', '%Y-%m-%dT%H:%M:%SZ'):
        try:
            d = datetime.strptime(s, fmt)
        except ValueError:
            continue
        return calendar.timegm(d.timetuple()) * 1000 + d.microsecond // 1000
    raise ValueError('bad timestamp %r' % s)


# ---------------------------------------------------------------- the rules

class Rules:
    """Runs the three rules over non-late records given in (time, arrival) order."""

    def __init__(self):
        self.out = []          # (rule, key, event_time_ms, data dict)
        self.timers = []       # heap (time, phase, seq, fn); phase 1 (segment evaluation) runs
        self.seq = 0           # after the phase-0 timers of the same instant; seq = creation order
        self.acc = {}          # meeting_id -> live partial matches of meeting_accepted
        self.rem = {}          # meeting_id -> live partial matches of meeting_reminder
        self.seg = {}          # user_id -> {'listings': deque of times, 'bucket': name}
        self.pending_eval = set()

    def at(self, t, phase, fn):
        heapq.heappush(self.timers, (t, phase, self.seq, fn))
        self.seq += 1

    def fire_until(self, t):
        """Fire timers with time < t (records before timers at equal time); t=None: all."""
        while self.timers and (t is None or self.timers[0][0] < t):
            heapq.heappop(self.timers)[3]()

    def record(self, r):
        self.fire_until(r['t'])
        if r['meeting'] is not None:     # a NULL key takes no part in the rule
            self.meeting_accepted(r)
            self.meeting_reminder(r)
        if r['user'] is not None:
            self.seller_level(r)

    def finish(self):
        self.fire_until(None)            # end of input: W = +infinity

    # meeting_accepted: proposal, then acceptance with t - t1 <= 48h (inclusive). Every waiting
    # partial match advances (each once) on the first qualifying acceptance processed after it;
    # the record advances existing matches before it may start a new one.
    def meeting_accepted(self, r):
        key, t = r['meeting'], r['t']
        pms = self.acc.setdefault(key, [])
        if r['type'] == ACCEPTED:
            for pm in pms:
                if pm['live'] and t - pm['t1'] <= ACCEPT_WITHIN:
                    pm['live'] = False   # last step matched: emit at the completing record's time
                    self.out.append(('meeting_accepted', key, t,
                                     {'proposed_at': iso(pm['t1']), 'accepted_at': iso(t)}))
        pms[:] = [pm for pm in pms if pm['live']]
        if r['type'] == PROPOSAL:
            pm = {'t1': t, 'live': True}
            pms.append(pm)
            # drop at the deadline; a record at exactly t1+48h was processed before this timer
            self.at(t + ACCEPT_WITHIN, 0, lambda pm=pm: pm.update(live=False))

    # meeting_reminder: a proposal starts a match (already complete: one step). An acceptance with
    # t1 <= t <= t1+1h processed after it cancels it; else emit at t1+1h when the timer fires.
    def meeting_reminder(self, r):
        key, t = r['meeting'], r['t']
        pms = self.rem.setdefault(key, [])
        if r['type'] == ACCEPTED:
            for pm in pms:       # live matches have deadline >= t (their timer has not fired)
                if pm['live'] and pm['t1'] <= t <= pm['t1'] + REMIND_WITHIN:
                    pm['live'] = False
        pms[:] = [pm for pm in pms if pm['live']]
        if r['type'] == PROPOSAL:
            pm = {'t1': t, 'live': True}
            pms.append(pm)

            def fire(pm=pm, key=key):
                if pm['live']:
                    pm['live'] = False
                    d = pm['t1'] + REMIND_WITHIN
                    self.out.append(('meeting_reminder', key, d, {'proposed_at': iso(pm['t1'])}))
            self.at(t + REMIND_WITHIN, 0, fire)

    # seller_level: window (T - 7d, T]. Every record of the key enters at t and leaves at t + 7d;
    # each such instant gets exactly one evaluation per key, run after all records and other
    # timers of that instant (so "enter and leave at the same instant" is one evaluation).
    def seller_level(self, r):
        u, t = r['user'], r['t']
        st = self.seg.setdefault(u, {'listings': collections.deque(), 'bucket': 'none'})
        if r['type'] == LISTING:
            st['listings'].append(t)
        for inst in (t, t + WINDOW):
            if (u, inst) not in self.pending_eval:
                self.pending_eval.add((u, inst))
                self.at(inst, 1, lambda u=u, inst=inst: self.evaluate(u, inst))

    def evaluate(self, u, T):
        self.pending_eval.discard((u, T))
        st = self.seg.get(u) or {'listings': collections.deque(), 'bucket': 'none'}
        ls = st['listings']
        while ls and ls[0] <= T - WINDOW:    # left the window (t + 7d <= T)
            ls.popleft()
        n = len(ls)                           # all remaining times are <= T (processed already)
        new = 'power_seller' if n >= 3 else 'seller' if n >= 1 else 'none'   # first match wins
        if new != st['bucket']:
            self.out.append(('seller_level', u, T, {'from': st['bucket'], 'to': new}))
            st['bucket'] = new
        if n == 0 and new == 'none':
            self.seg.pop(u, None)             # empty window in the default bucket: no state
        else:
            self.seg[u] = st


def mark_late(records, ooo=OOO):
    """Arrival order; W = max event time of the records before - ooo (5 s); late iff t < W."""
    mx = None
    for r in records:
        r['late'] = mx is not None and r['t'] < mx - ooo
        r['ooo'] = mx is not None and not r['late'] and r['t'] < mx   # out of order, on time
        mx = r['t'] if mx is None else max(mx, r['t'])


def derive(records, ooo=OOO):
    mark_late(records, ooo)
    rules = Rules()
    for r in sorted((r for r in records if not r['late']), key=lambda r: r['t']):  # stable
        rules.record(r)
    rules.finish()
    return sorted(rules.out, key=lambda o: (o[0], o[1], iso(o[2]), json.dumps(o[3])))


def key(v):   # keys are strings; a number would be its decimal form (not produced by gen)
    return None if v is None else v if isinstance(v, str) else json.dumps(v)


def load(d):
    """Records in arrival order: manifest order, then line order. Records missing a required
    column (id, type, created_at) would be error records: they never reach the rules."""
    data = os.path.join(d, 'data')
    with open(os.path.join(data, 'manifest.txt')) as f:
        names = [l.strip() for l in f if l.strip()]
    out = []
    for name in names:
        with open(os.path.join(data, name)) as f:
            for line in f:
                if not line.strip():
                    continue
                o = json.loads(line)
                dd = o.get('data') or {}
                attrs, ts = dd.get('attributes') or {}, (o.get('meta') or {}).get('created_at')
                if dd.get('id') is None or dd.get('type') is None or ts is None:
                    continue
                out.append({'t': parse_ts(ts), 'type': dd['type'], 'id': dd['id'],
                            'user': key(attrs.get('user_id')), 'meeting': key(attrs.get('meeting_id'))})
    return out


def expect(args):
    records = load(args.dir)
    out = derive(records, args.ooo_ms)
    for rule, key, t, data in out:
        print(json.dumps({'rule': rule, 'key': key, 'event_time': iso(t), 'data': data}))
    counts = collections.Counter(o[0] for o in out)
    print('records %d, late %d, out-of-order on time %d' % (
        len(records), sum(r['late'] for r in records), sum(r['ooo'] for r in records)), file=sys.stderr)
    for rule in ('meeting_accepted', 'meeting_reminder', 'seller_level'):
        print('%s %d' % (rule, counts[rule]), file=sys.stderr)


# ---------------------------------------------------------------- generator

def gen(args):
    rng, K = random.Random(args.seed), args.events
    ev = []                                   # [time, type, user, meeting, delay, hint]
    nusers, nmeet = max(5, K // 30), max(5, K // 40)
    ctr = collections.Counter()
    kinds = collections.Counter()

    def new(prefix):
        ctr[prefix] += 1
        return '%s%d' % (prefix, ctr[prefix])

    def jitter():                            # arrival delay: arrival key = time + delay
        x = rng.random()
        if x < 0.03:
            return rng.randint(2 * MIN, 30 * MIN)            # usually LATE (needs a newer record)
        if x < 0.15:
            return OOO if x < 0.05 else rng.randint(1, OOO)   # out of order, always on time
        return 0

    def add(t, typ, user, meeting=None, delay=None, hint=0, protect=False):
        # protect: delay <= 5s guarantees on time (everything arriving earlier has time <= t + delay)
        if delay is None:
            delay = (rng.randint(0, OOO) if rng.random() < 0.15 else 0) if protect else jitter()
        ev.append([t, typ, user, meeting, delay, hint])

    def user():
        return 'u%d' % rng.randrange(nusers)

    def meeting_group():
        m, u, v, t = new('m'), user(), user(), BASE + rng.randrange(10 * DAY)
        k = rng.choice(['fast', 'mid', 'slow', 'unanswered', 'multi', 'edge', 'edge', 'repeat',
                        'accept_first', 'tie', 'swap', 'swap', 'late_accept'])
        kinds[k] += 1
        P = lambda t, **kw: add(t, PROPOSAL, u, m, **kw)
        A = lambda t, **kw: add(t, ACCEPTED, v, m, **kw)
        if k == 'fast':
            P(t); A(t + rng.randint(1, HOUR - 1))
        elif k == 'mid':
            P(t); A(t + rng.randint(HOUR + 1, ACCEPT_WITHIN - 1))
        elif k == 'slow':
            P(t); A(t + rng.randint(ACCEPT_WITHIN + 1, 60 * HOUR))
        elif k == 'unanswered':
            P(t)
        elif k == 'multi':                    # several proposals, some > 48h before the answer
            ts = sorted(t + rng.randint(0, 52 * HOUR) for _ in range(rng.randint(2, 4)))
            for x in ts:
                P(x)
            A(ts[-1] + rng.randint(1, 2 * HOUR))
        elif k == 'edge':                     # boundaries: exactly 1h / 48h, and 1 ms on either side
            d = rng.choice([HOUR, HOUR, ACCEPT_WITHIN, ACCEPT_WITHIN, HOUR - 1, HOUR + 1,
                            ACCEPT_WITHIN - 1, ACCEPT_WITHIN + 1])
            P(t, protect=True); A(t + d, protect=True)
        elif k == 'repeat':                   # two acceptances (2nd ignored), then a re-proposal
            a = t + rng.randint(MIN, 3 * HOUR)
            P(t); A(a); A(a + rng.randint(MIN, HOUR))
            p2 = a + rng.randint(2 * HOUR, 30 * HOUR)
            P(p2); A(p2 + rng.randint(MIN, 50 * HOUR))
        elif k == 'accept_first':             # an acceptance before the proposal matches nothing
            A(t); P(t + rng.randint(1, 3 * HOUR))
        elif k == 'tie':                      # same millisecond; arrival order decides
            h = rng.randint(0, 1)
            P(t, delay=0, hint=h); A(t, delay=0, hint=1 - h)
        elif k == 'swap':                     # acceptance arrives first; proposal on time iff gap <= 5s
            gap = rng.choice([rng.randint(1, OOO - 1), rng.randint(1, OOO - 1), OOO, OOO + 1])
            P(t, delay=gap, hint=1); A(t + gap, delay=0)
        elif k == 'late_accept':              # the acceptance arrives minutes late
            P(t, protect=True); A(t + rng.randint(MIN, 50 * MIN), delay=rng.randint(10 * MIN, 30 * MIN))
        if rng.random() < 0.3:                # a non-qualifying record of the key in between
            add(t + rng.randint(0, 2 * HOUR), 'page_view', u, m)

    def seller_group():
        u, t = new('s'), BASE + rng.randrange(5 * DAY)
        k = rng.choice(['climb', 'exact7d', 'exact7d_power', 'random'])
        kinds[k] += 1
        L = lambda t, **kw: add(t, LISTING, u, **kw)
        a, b = rng.randint(HOUR, 2 * DAY), rng.randint(HOUR, 2 * DAY)
        if k == 'climb':                      # 0 -> 1 -> 2 -> 3 then leaves: 2, 1, 0
            L(t, protect=True); L(t + a, protect=True); L(t + a + b, protect=True)
        elif k == 'exact7d':                  # enters as the other leaves: one evaluation, still 1
            L(t, protect=True); L(t + WINDOW, protect=True)
        elif k == 'exact7d_power':            # 3 listings, a 4th exactly 7d after the first
            for x in (t, t + a, t + a + b, t + WINDOW):
                L(x, protect=True)
        else:
            for _ in range(rng.randint(1, 6)):
                L(BASE + rng.randrange(12 * DAY))

    while len(ev) < K * 0.45:
        meeting_group() if rng.random() < 0.6 else seller_group()
    while len(ev) < K:                        # ordinary traffic over ~12 days
        t, x, u = BASE + rng.randrange(12 * DAY), rng.random(), user()
        m = 'r%d' % rng.randrange(nmeet)
        if x < 0.5:
            add(t, 'page_view', u, m if rng.random() < 0.2 else None)
        elif x < 0.7:
            add(t, LISTING, u)
        else:
            add(t, PROPOSAL if x < 0.85 else ACCEPTED, u, m)
    ev = ev[:K]
    order = sorted(range(len(ev)), key=lambda i: (ev[i][0] + ev[i][4], ev[i][5], i))
    lines = []
    for n, i in enumerate(order):
        t, typ, u, m = ev[i][:4]
        attrs = {'user_id': u}
        if m is not None:
            attrs['meeting_id'] = m
        lines.append(json.dumps({'data': {'id': 'e%d' % (n + 1), 'type': typ, 'attributes': attrs},
                                 'meta': {'created_at': iso(t)}}))
    data = os.path.join(args.dir, 'data')
    os.makedirs(data, exist_ok=True)
    names = []
    for f in range(args.files):
        names.append('part-%03d.jsonl' % f)
        chunk = lines[f * len(lines) // args.files:(f + 1) * len(lines) // args.files]
        with open(os.path.join(data, names[-1]), 'w') as fh:
            fh.write(''.join(l + '\n' for l in chunk))
    with open(os.path.join(data, 'manifest.txt'), 'w') as fh:
        fh.write(''.join(n + '\n' for n in names))
    print('wrote %d events in %d files; scenarios %s' % (len(lines), args.files, dict(sorted(kinds.items()))),
          file=sys.stderr)


# ---------------------------------------------------------------- selftest

def selftest(_args):
    def ts(s):                                # "11-01 10:00[:00]" -> ms in 2025
        md, hm = s.split()
        hms = hm if hm.count(':') == 2 else hm + ':00'
        return parse_ts('2025-%sT%s.000Z' % (md, hms))

    def run(evs):                             # evs: (time, type, meeting, user) in arrival order
        recs = [{'t': t if isinstance(t, int) else ts(t), 'type': ty, 'meeting': m, 'user': u, 'id': str(i)}
                for i, (t, ty, m, u) in enumerate(evs)]
        return recs, [(r, k, iso(t), d) for r, k, t, d in derive(recs)]

    def check(name, got, want):
        want = sorted(want, key=lambda o: (o[0], o[1], o[2], json.dumps(o[3])))
        if got != want:
            print('FAIL %s\n got  %s\n want %s' % (name, got, want), file=sys.stderr)
            sys.exit(1)
        print('ok   %s' % name, file=sys.stderr)

    Z = lambda s: '2025-%sZ' % s
    sl = lambda t, f, to: ('seller_level', 'u1', Z(t), {'from': f, 'to': to})
    # seller_level timeline, continued until the window empties.
    _, got = run([(d + ' 10:00', LISTING, None, 'u1') for d in ('11-01', '11-02', '11-03', '11-09')])
    check('seller_level Nov 1/2/3/8/9', got, [
        sl('11-01T10:00:00.000', 'none', 'seller'), sl('11-03T10:00:00.000', 'seller', 'power_seller'),
        sl('11-08T10:00:00.000', 'power_seller', 'seller'), sl('11-16T10:00:00.000', 'seller', 'none')])
    # Exactly 7d apart: enter + leave at one instant -> one evaluation, no record.
    _, got = run([('11-01 10:00', LISTING, None, 'u1'), ('11-08 10:00', LISTING, None, 'u1')])
    check('seller_level enter/leave same instant', got, [
        sl('11-01T10:00:00.000', 'none', 'seller'), sl('11-15T10:00:00.000', 'seller', 'none')])

    # meeting_reminder m1/m2 (+ what meeting_accepted derives from the same records).
    _, got = run([('11-20 10:00', PROPOSAL, 'm1', 'u'), ('11-20 10:00', PROPOSAL, 'm2', 'u'),
                  ('11-20 10:40', PROPOSAL, 'm1', 'u'), ('11-20 11:00', ACCEPTED, 'm1', 'v')])
    acc = lambda k, p, a: ('meeting_accepted', k, Z(a), {'proposed_at': Z(p), 'accepted_at': Z(a)})
    check('meeting_reminder m1/m2', got, [
        acc('m1', '11-20T10:00:00.000', '11-20T11:00:00.000'),
        acc('m1', '11-20T10:40:00.000', '11-20T11:00:00.000'),
        ('meeting_reminder', 'm2', Z('11-20T11:00:00.000'), {'proposed_at': Z('11-20T10:00:00.000')})])
    # Boundaries (inclusive): accept at +48h matches, +48h+1ms does not; accept at +1h cancels the
    # reminder, +1h+1ms does not. All four meetings proposed at 11-20 10:00.
    p0 = ts('11-20 10:00')
    offs = {'a': ACCEPT_WITHIN, 'b': ACCEPT_WITHIN + 1, 'c': HOUR, 'd': HOUR + 1}
    evs = [(p0, PROPOSAL, k, 'u') for k in offs] + sorted((p0 + o, ACCEPTED, k, 'v') for k, o in offs.items())
    _, got = run(evs)
    rem = lambda k: ('meeting_reminder', k, iso(p0 + HOUR), {'proposed_at': iso(p0)})
    acc2 = lambda k: ('meeting_accepted', k, iso(p0 + offs[k]),
                      {'proposed_at': iso(p0), 'accepted_at': iso(p0 + offs[k])})
    check('boundaries 48h/1h inclusive', got,
          [acc2('a'), acc2('c'), acc2('d'), rem('a'), rem('b'), rem('d')])

    # Watermark example: a 10:00:00, b 10:00:07, c 10:00:03 (on time), d 10:00:01 (late).
    evs = [('11-20 10:00:00', PROPOSAL, 'm', 'u'), ('11-20 10:00:07', 'page_view', 'm', 'u'),
           ('11-20 10:00:03', ACCEPTED, 'm', 'v'), ('11-20 10:00:01', ACCEPTED, 'x', 'v')]
    recs, got = run(evs)
    if [r['late'] for r in recs] != [False, False, False, True]:
        sys.exit('FAIL watermark lateness flags: %s' % [r['late'] for r in recs])
    check('watermark: c is on time and matches', got,
          [acc('m', '11-20T10:00:00.000', '11-20T10:00:03.000')])
    # A late acceptance does not reach the rules: the reminder fires, nothing matches.
    _, got = run([evs[0], evs[1], ('11-20 10:00:01', ACCEPTED, 'm', 'v')])
    check('watermark: late acceptance ignored', got,
          [('meeting_reminder', 'm', Z('11-20T11:00:00.000'), {'proposed_at': Z('11-20T10:00:00.000')})])
    # Exactly at W is on time: proposal arrives 5 s behind the acceptance and still matches.
    recs, got = run([('11-20 10:00:05', ACCEPTED, 'm', 'v'), ('11-20 10:00:00', PROPOSAL, 'm', 'u')])
    check('record at exactly W is on time', got, [acc('m', '11-20T10:00:00.000', '11-20T10:00:05.000')])
    # Same millisecond: arrival order decides whether the acceptance follows the proposal.
    _, got = run([('11-20 10:00', ACCEPTED, 'm', 'v'), ('11-20 10:00', PROPOSAL, 'm', 'u')])
    check('tie: acceptance first matches nothing', got,
          [('meeting_reminder', 'm', Z('11-20T11:00:00.000'), {'proposed_at': Z('11-20T10:00:00.000')})])
    print('selftest passed', file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    g = sub.add_parser('gen')
    g.add_argument('--dir', required=True)
    g.add_argument('--seed', type=int, default=1)
    g.add_argument('--events', type=int, default=20000)
    g.add_argument('--files', type=int, default=3)
    e = sub.add_parser('expect')
    e.add_argument('--dir', required=True)
    # A larger out_of_orderness (ms): nothing is late, so the records do not depend on how
    # inputs read in parallel (a stream's partitions) interleave.
    e.add_argument('--ooo-ms', type=int, default=OOO)
    sub.add_parser('selftest')
    a = ap.parse_args()
    {'gen': gen, 'expect': expect, 'selftest': selftest}[a.cmd](a)


if __name__ == '__main__':
    main()

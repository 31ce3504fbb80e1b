#!/usr/bin/python3
"""shapely 1.8 peer for bench/geo/run.sh: STRtree + prepared geometries, same rule as weir
(the first polygon in file order that covers the point).

usage: shapely_bench.py LAYER_CSV POINTS_BIN N IDS_OUT

Looks up the first N points of POINTS_BIN (float64 lon,lat pairs), prints points per CPU second
(time.process_time, so other load on the machine does not count), and writes the polygon
numbers to IDS_OUT for the agreement check.
"""
import csv
import sys
import time
import warnings

import numpy as np
from shapely import wkt
from shapely.geometry import Point
from shapely.prepared import prep
from shapely.strtree import STRtree

warnings.simplefilter("ignore")
csv.field_size_limit(1 << 30)
layer, points_bin, n, ids_out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
geoms = [wkt.loads(r[next(k for k in r if k.lower() == "wkt")])
         for r in csv.DictReader(open(layer, newline=""))]
pts = np.fromfile(points_bin, dtype="<f8", count=2 * n).reshape(-1, 2)
t0 = time.process_time()
prepared = [prep(g) for g in geoms]
tree = STRtree(geoms)
t1 = time.process_time()
out = np.empty(len(pts), dtype=np.int32)
for k, (x, y) in enumerate(pts.tolist()):
    p = Point(x, y)
    best = -1
    # query_items: candidate indices whose envelope contains the point; test them in file order
    # and stop at the first that covers it.
    for i in sorted(tree.query_items(p)):
        if prepared[i].covers(p):
            best = i
            break
    out[k] = best
t2 = time.process_time()
np.savetxt(ids_out, out, fmt="%d")
print("shapely build_cpu_s=%.2f points=%d cpu_s=%.3f points_per_cpu_s=%.0f"
      % (t1 - t0, len(pts), t2 - t1, len(pts) / (t2 - t1)))

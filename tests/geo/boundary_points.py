#!/usr/bin/python3
"""Points on and next to polygon boundaries, to test the boundary rule against the oracle.

usage: boundary_points.py LAYER_CSV GEOMETRY_COLUMN MAX_POINTS SEED OUT_CSV

Writes `lon,lat` lines: polygon vertices (shared by neighbours on common borders), edge midpoints
(on or within an ulp of the edge), and points exactly on axis-parallel edges (e.g. the 49th
parallel), sampled down to MAX_POINTS with a seeded RNG.
"""
import csv
import random
import sys

from shapely import wkt


def rings(g):
    polys = [g] if g.geom_type == "Polygon" else list(getattr(g, "geoms", []))
    for p in polys:
        if p.geom_type != "Polygon":
            continue
        yield p.exterior
        yield from p.interiors


def main():
    csv.field_size_limit(1 << 30)
    path, col, limit, seed, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    pts = []
    for row in csv.DictReader(open(path, newline="")):
        key = next(k for k in row if k.lower() == col.lower())
        try:
            g = wkt.loads(row[key])
        except Exception:
            continue
        for ring in rings(g):
            cs = list(ring.coords)
            for (x1, y1), (x2, y2) in zip(cs, cs[1:]):
                pts.append((x1, y1))
                pts.append(((x1 + x2) / 2, (y1 + y2) / 2))
                if y1 == y2 and x1 != x2:
                    pts.append((x1 + (x2 - x1) * 0.37, y1))
                if x1 == x2 and y1 != y2:
                    pts.append((x1, y1 + (y2 - y1) * 0.61))
    rng = random.Random(seed)
    rng.shuffle(pts)
    with open(out, "w") as f:
        for x, y in pts[:limit]:
            f.write("%r,%r\n" % (x, y))


if __name__ == "__main__":
    main()

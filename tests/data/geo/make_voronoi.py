#!/usr/bin/python3
"""Synthetic many-polygon layer: N Voronoi cells of seeded random points on land, clipped to the
Natural Earth countries (tests/data/geo/countries.csv), written as CSV with WKT.

usage: make_voronoi.py COUNTRIES_CSV N SEED OUT_CSV

Each output row is one cell clipped to one country (a cell crossing a border becomes several rows,
one per country), with columns wkt, cell (the cell number) and country. Deterministic for a given
N and SEED (shapely 1.8 / GEOS 3.11).
"""
import csv
import random
import sys
import warnings

from shapely import wkt
from shapely.geometry import MultiPoint, MultiPolygon, Point, Polygon
from shapely.ops import voronoi_diagram
from shapely.prepared import prep
from shapely.strtree import STRtree


def polygonal(g):
    parts = []
    if isinstance(g, Polygon):
        parts = [g]
    elif isinstance(g, MultiPolygon):
        parts = list(g.geoms)
    elif hasattr(g, "geoms"):
        for p in g.geoms:
            parts.extend(polygonal(p).geoms if polygonal(p) is not None else [])
    parts = [p for p in parts if not p.is_empty and p.area > 0]
    return MultiPolygon(parts) if parts else None


def main():
    warnings.simplefilter("ignore")
    csv.field_size_limit(1 << 30)
    countries = [(r["name"], wkt.loads(r["WKT"])) for r in csv.DictReader(open(sys.argv[1]))]
    n, seed, out_path = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    rng = random.Random(seed)
    geoms = [g for _, g in countries]
    preps = [prep(g) for g in geoms]
    index_of = {id(g): i for i, g in enumerate(geoms)}
    tree = STRtree(geoms)
    seeds = []
    while len(seeds) < n:
        p = Point(rng.uniform(-180, 180), rng.uniform(-60, 84))
        if any(preps[index_of[id(g)]].covers(p) for g in tree.query(p)):
            seeds.append(p)
    # (shapely 1.8's voronoi_diagram crashes when given an envelope; the default one is the points'
    # extent, which is enough: the cells are clipped to the countries anyway.)
    cells = voronoi_diagram(MultiPoint(seeds))
    with open(out_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["wkt", "cell", "country"])
        for c, cell in enumerate(cells.geoms):
            for g in tree.query(cell):
                i = index_of[id(g)]
                if not preps[i].intersects(cell):
                    continue
                part = polygonal(cell.intersection(g))
                if part is not None:
                    w.writerow([part.wkt, c, countries[i][0]])


if __name__ == "__main__":
    main()

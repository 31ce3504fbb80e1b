#!/usr/bin/python3
"""Independent oracle for weir's geo lookups, using shapely 1.8 (GEOS via Python).

usage: oracle.py LAYER_FILE GEOMETRY_COLUMN POINTS_CSV OUT

LAYER_FILE is a CSV with a WKT column GEOMETRY_COLUMN, or a GeoJSON FeatureCollection (pass '-'
as GEOMETRY_COLUMN). Invalid polygons are repaired with shapely.validation.make_valid (keeping the
polygonal part) and empty/non-polygonal rows dropped, like weir's default `invalid_geometry:
repair`. For every `lon,lat` line of POINTS_CSV, writes to OUT the 0-based number (among kept
polygons) of the FIRST polygon in file order that covers the point (interior or boundary), or -1:
the rule documented in docs/geo.md.
"""
import csv
import warnings
import json
import sys

from shapely import wkt
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.prepared import prep
from shapely.strtree import STRtree
from shapely.validation import make_valid


def polygonal(g):
    if g is None or g.is_empty:
        return None
    if isinstance(g, (Polygon, MultiPolygon)):
        return g if g.is_valid else polygonal(make_valid(g))
    if g.geom_type == "GeometryCollection":
        parts = []
        for p in g.geoms:
            if isinstance(p, Polygon):
                parts.append(p)
            elif isinstance(p, MultiPolygon):
                parts.extend(p.geoms)
        return MultiPolygon(parts) if parts else None
    return None


def load(path, column):
    geoms = []
    if column == "-":
        for f in json.load(open(path))["features"]:
            try:
                g = shape(f["geometry"]) if f.get("geometry") else None
            except Exception:
                g = None
            geoms.append(g)
    else:
        csv.field_size_limit(1 << 30)
        for row in csv.DictReader(open(path, newline="")):
            key = next(k for k in row if k.lower() == column.lower())
            try:
                geoms.append(wkt.loads(row[key]))
            except Exception:
                geoms.append(None)
    kept = []
    for g in geoms:
        g = polygonal(g)
        if g is not None and not g.is_empty:
            kept.append(g)
    return kept


def main():
    warnings.simplefilter("ignore")
    polys = load(sys.argv[1], sys.argv[2])
    index_of = {id(g): i for i, g in enumerate(polys)}
    prepared = [prep(g) for g in polys]
    tree = STRtree(polys)
    out = open(sys.argv[4], "w")
    for line in open(sys.argv[3]):
        lon, lat = line.strip().split(",")
        p = Point(float(lon), float(lat))
        best = -1
        for g in tree.query(p):
            i = index_of[id(g)]
            if (best < 0 or i < best) and prepared[i].covers(p):
                best = i
        out.write("%d\n" % best)


if __name__ == "__main__":
    main()

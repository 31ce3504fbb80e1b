#!/usr/bin/env python3
"""Independent check of Iceberg v2 manifests and manifest lists written by weir.

Decodes each Avro file with Debian's python3-avro (not weir's code) and validates it against the
Iceberg table spec (format/spec.md, "Manifests", "Manifest Lists", Appendix A): every field's
name, field id, Avro type and optionality; the required fields of v2; the key-value metadata a v2
manifest must carry; the partition struct against the `partition-spec` metadata; map and list
element ids. Prints one JSON object per file on stdout: {"path", "kind", "metadata", "records"}
(bytes as hex, dates as days, timestamps as microseconds) so the caller can compare values.
Exits 1 with a message naming the file and field on the first violation.

Table metadata files (*.metadata.json) are checked too: the required v2 keys, ids that point at
existing schemas/specs/sort orders/snapshots, increasing sequence numbers, refs.main.

Usage: iceberg_avro_check.py FILE.avro|vN.metadata.json...
"""
import datetime
import json
import sys
import warnings

import avro.datafile
import avro.io
import avro.schema

warnings.filterwarnings("ignore")  # python3-avro warns about Iceberg's "map" logical type

# (field id, name, type, required-in-v2). Types: primitive Avro names, "map:K:V:key_id:value_id",
# "list:E:element_id", "struct:<name>". Transcribed from the spec's tables.
DATA_FILE = [
    (134, "content", "int", True),
    (100, "file_path", "string", True),
    (101, "file_format", "string", True),
    (102, "partition", "struct:partition", True),
    (103, "record_count", "long", True),
    (104, "file_size_in_bytes", "long", True),
    (108, "column_sizes", "map:int:long:117:118", False),
    (109, "value_counts", "map:int:long:119:120", False),
    (110, "null_value_counts", "map:int:long:121:122", False),
    (137, "nan_value_counts", "map:int:long:138:139", False),
    (125, "lower_bounds", "map:int:bytes:126:127", False),
    (128, "upper_bounds", "map:int:bytes:129:130", False),
    (131, "key_metadata", "bytes", False),
    (132, "split_offsets", "list:long:133", False),
    (135, "equality_ids", "list:int:136", False),
    (140, "sort_order_id", "int", False),
    (143, "referenced_data_file", "string", False),
]
MANIFEST_ENTRY = [
    (0, "status", "int", True),
    (1, "snapshot_id", "long", False),
    (3, "sequence_number", "long", False),
    (4, "file_sequence_number", "long", False),
    (2, "data_file", "struct:data_file", True),
]
FIELD_SUMMARY = [
    (509, "contains_null", "boolean", True),
    (518, "contains_nan", "boolean", False),
    (510, "lower_bound", "bytes", False),
    (511, "upper_bound", "bytes", False),
]
MANIFEST_FILE = [
    (500, "manifest_path", "string", True),
    (501, "manifest_length", "long", True),
    (502, "partition_spec_id", "int", True),
    (517, "content", "int", True),
    (515, "sequence_number", "long", True),
    (516, "min_sequence_number", "long", True),
    (503, "added_snapshot_id", "long", True),
    (504, "added_files_count", "int", True),
    (505, "existing_files_count", "int", True),
    (506, "deleted_files_count", "int", True),
    (512, "added_rows_count", "long", True),
    (513, "existing_rows_count", "long", True),
    (514, "deleted_rows_count", "long", True),
    (507, "partitions", "list:struct:field_summary:508", False),
    (519, "key_metadata", "bytes", False),
]
STRUCTS = {"data_file": DATA_FILE, "field_summary": FIELD_SUMMARY}

# Iceberg type -> (Avro type, logicalType) for partition values (Appendix A).
ICEBERG_AVRO = {
    "boolean": ("boolean", None), "int": ("int", None), "long": ("long", None),
    "float": ("float", None), "double": ("double", None), "date": ("int", "date"),
    "timestamp": ("long", "timestamp-micros"), "timestamptz": ("long", "timestamp-micros"),
    "string": ("string", None), "binary": ("bytes", None),
}


class Bad(Exception):
    pass


def unwrap(field_type, required, where):
    """Returns the non-null schema of a field; optional fields must be ["null", T] with default null."""
    if required:
        if field_type.type == "union":
            raise Bad(f"{where}: a required field must not be a union")
        return field_type
    if field_type.type != "union" or len(field_type.schemas) != 2 or field_type.schemas[0].type != "null":
        raise Bad(f"{where}: an optional field must be a union of null first and its type")
    return field_type.schemas[1]


def check_struct(record_schema, spec, where, partition_check):
    if record_schema.type != "record":
        raise Bad(f"{where}: expected an Avro record, got {record_schema.type}")
    by_name = {f.name: f for f in record_schema.fields}
    spec_names = {s[1] for s in spec}
    for f in record_schema.fields:
        if f.name not in spec_names:
            raise Bad(f"{where}.{f.name}: field not in the Iceberg v2 spec")
    for fid, name, typ, required in spec:
        f = by_name.get(name)
        if f is None:
            if required:
                raise Bad(f"{where}.{name}: required v2 field missing")
            continue
        w = f"{where}.{name}"
        if f.get_prop("field-id") != fid:
            raise Bad(f"{w}: field-id {f.get_prop('field-id')}, spec says {fid}")
        if not required and f.has_default and f.default is not None:
            raise Bad(f"{w}: optional field default must be null")
        t = unwrap(f.type, required, w)
        check_type(t, typ, w, partition_check)


def check_type(t, typ, w, partition_check):
    if typ.startswith("struct:"):
        name = typ.split(":", 1)[1]
        if name == "partition":
            partition_check(t, w)
        else:
            check_struct(t, STRUCTS[name], w, partition_check)
    elif typ.startswith("map:"):
        _, k, v, kid, vid = typ.split(":")
        if t.type != "array" or t.get_prop("logicalType") != "map":
            raise Bad(f"{w}: an int-keyed map must be an Avro array with logicalType map")
        rec = t.items
        if rec.type != "record" or [f.name for f in rec.fields] != ["key", "value"]:
            raise Bad(f"{w}: map items must be records of key and value")
        for f, ty, fid in ((rec.fields[0], k, int(kid)), (rec.fields[1], v, int(vid))):
            if f.type.type != ty or f.get_prop("field-id") != fid:
                raise Bad(f"{w}.{f.name}: expected {ty} with field-id {fid}")
    elif typ.startswith("list:"):
        parts = typ.split(":")
        if t.type != "array":
            raise Bad(f"{w}: expected an array")
        if t.get_prop("element-id") != int(parts[-1]):
            raise Bad(f"{w}: element-id {t.get_prop('element-id')}, spec says {parts[-1]}")
        if parts[1] == "struct":
            check_struct(t.items, STRUCTS[parts[2]], w + "[]", partition_check)
        elif t.items.type != parts[1]:
            raise Bad(f"{w}: element type {t.items.type}, spec says {parts[1]}")
    elif t.type != typ:
        raise Bad(f"{w}: Avro type {t.type}, spec says {typ}")


def to_json(v):
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, datetime.datetime):
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        d = v - epoch
        return (d.days * 86400 + d.seconds) * 1000000 + d.microseconds
    if isinstance(v, datetime.date):
        return (v - datetime.date(1970, 1, 1)).days
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_json(x) for x in v]
    return v


# Table metadata keys a v2 file must have ("Table Metadata Fields"), and per snapshot.
METADATA_REQUIRED = ["format-version", "table-uuid", "location", "last-sequence-number", "last-updated-ms",
                     "last-column-id", "schemas", "current-schema-id", "partition-specs", "default-spec-id",
                     "last-partition-id", "sort-orders", "default-sort-order-id"]
SNAPSHOT_REQUIRED = ["snapshot-id", "sequence-number", "timestamp-ms", "manifest-list", "summary"]


def check_metadata_json(path):
    with open(path, encoding="utf-8") as fh:
        m = json.load(fh)
    for key in METADATA_REQUIRED:
        if key not in m:
            raise Bad(f"{path}: v2 table metadata key '{key}' missing")
    if m["format-version"] != 2:
        raise Bad(f"{path}: format-version {m['format-version']}, expected 2")
    for key in ("schema", "partition-spec"):
        if key in m:
            raise Bad(f"{path}: deprecated v1 key '{key}' must be omitted in v2")
    schema_ids = {s["schema-id"] for s in m["schemas"]}
    if m["current-schema-id"] not in schema_ids:
        raise Bad(f"{path}: current-schema-id names no schema")
    max_field = max((f["id"] for s in m["schemas"] for f in s["fields"]), default=0)
    if m["last-column-id"] < max_field:
        raise Bad(f"{path}: last-column-id {m['last-column-id']} below a field id {max_field}")
    part_ids = [f["field-id"] for s in m["partition-specs"] for f in s["fields"]]
    if part_ids and m["last-partition-id"] < max(part_ids):
        raise Bad(f"{path}: last-partition-id below a partition field id")
    if m["default-spec-id"] not in {s["spec-id"] for s in m["partition-specs"]}:
        raise Bad(f"{path}: default-spec-id names no spec")
    if m["default-sort-order-id"] not in {o["order-id"] for o in m["sort-orders"]}:
        raise Bad(f"{path}: default-sort-order-id names no sort order")
    snaps = {s["snapshot-id"]: s for s in m.get("snapshots", [])}
    last_seq = 0
    for s in m.get("snapshots", []):
        for key in SNAPSHOT_REQUIRED:
            if key not in s:
                raise Bad(f"{path}: snapshot {s.get('snapshot-id')} lacks '{key}'")
        if s["summary"].get("operation") not in ("append", "replace", "overwrite", "delete"):
            raise Bad(f"{path}: snapshot {s['snapshot-id']} has no valid summary operation")
        if "parent-snapshot-id" in s and s["parent-snapshot-id"] not in snaps:
            raise Bad(f"{path}: snapshot {s['snapshot-id']} has an unknown parent")
        if s["sequence-number"] <= last_seq or s["sequence-number"] > m["last-sequence-number"]:
            raise Bad(f"{path}: snapshot sequence numbers must increase up to last-sequence-number")
        last_seq = s["sequence-number"]
    current = m.get("current-snapshot-id")
    if current is not None and current != -1:
        if current not in snaps:
            raise Bad(f"{path}: current-snapshot-id names no snapshot")
        main = m.get("refs", {}).get("main")
        if main is not None and (main["snapshot-id"] != current or main["type"] != "branch"):
            raise Bad(f"{path}: refs.main must be a branch at current-snapshot-id")
    return {"path": path, "kind": "metadata", "metadata": {}, "records": []}


def check_file(path):
    if path.endswith(".metadata.json"):
        return check_metadata_json(path)
    with open(path, "rb") as fh:
        reader = avro.datafile.DataFileReader(fh, avro.io.DatumReader())
        meta = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in reader.meta.items()}
        schema = reader.datum_reader.writers_schema
        if schema is None:
            schema = avro.schema.parse(meta["avro.schema"])
        records = [to_json(r) for r in reader]
        reader.close()
    if schema.name == "manifest_entry":
        kind = "manifest"
        for key in ("schema", "schema-id", "partition-spec", "partition-spec-id", "format-version", "content"):
            if key not in meta:
                raise Bad(f"{path}: v2 manifest metadata key '{key}' missing")
        if meta["format-version"] != "2" or meta["content"] != "data":
            raise Bad(f"{path}: format-version must be 2 and content data")
        table_schema = json.loads(meta["schema"])
        spec_fields = json.loads(meta["partition-spec"])
        if not isinstance(spec_fields, list):
            raise Bad(f"{path}: partition-spec must be the JSON list of fields")
        types = {f["id"]: f["type"] for f in table_schema["fields"]}

        def partition_check(t, w):
            if t.type != "record" or len(t.fields) != len(spec_fields):
                raise Bad(f"{w}: partition struct must have one field per spec field")
            for f, pf in zip(t.fields, spec_fields):
                if f.get_prop("field-id") != pf["field-id"]:
                    raise Bad(f"{w}.{f.name}: field-id must be the partition field id {pf['field-id']}")
                src = types[pf["source-id"]]
                result = {"identity": src, "day": "date", "hour": "int", "year": "int", "month": "int"}[pf["transform"]]
                avro_type, logical = ICEBERG_AVRO[result]
                inner = unwrap(f.type, False, f"{w}.{f.name}")
                if inner.type != avro_type or inner.get_prop("logicalType") != logical:
                    raise Bad(f"{w}.{f.name}: {inner.type}/{inner.get_prop('logicalType')} for a {result} value")

        check_struct(schema, MANIFEST_ENTRY, path + ":manifest_entry", partition_check)
        for r in records:
            if r["status"] not in (0, 1, 2) or r["data_file"]["content"] != 0:
                raise Bad(f"{path}: bad status or content in {r}")
            if r["status"] != 1 and (r["snapshot_id"] is None or r["sequence_number"] is None):
                raise Bad(f"{path}: EXISTING/DELETED entries must carry snapshot id and sequence number")
    elif schema.name == "manifest_file":
        kind = "manifest_list"
        check_struct(schema, MANIFEST_FILE, path + ":manifest_file", None)
    else:
        raise Bad(f"{path}: record {schema.name} is neither manifest_entry nor manifest_file")
    return {"path": path, "kind": kind, "metadata": {k: v for k, v in meta.items() if k != "avro.schema"},
            "records": records}


def main():
    try:
        for p in sys.argv[1:]:
            print(json.dumps(check_file(p), sort_keys=True))
    except Bad as e:
        print(f"iceberg_avro_check: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

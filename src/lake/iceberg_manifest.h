// iceberg_manifest.h: Iceberg v2 manifests and manifest lists as Avro container files, written
// from the Iceberg specification ("Manifests", "Manifest Lists", Appendix A "Avro").
//
// A manifest is an Avro file of `manifest_entry` records (status, snapshot id, sequence numbers,
// the `data_file` struct with its partition tuple and metrics); its Avro schema depends on the
// partition spec (the `partition` struct, field ids = partition field ids). The file metadata holds
// the table schema, the partition spec, its id, the format version and the content kind, as the
// spec requires for v2. A manifest list is an Avro file of `manifest_file` records.
//
// Every Avro field carries its Iceberg field id as `field-id`; optional fields are unions with
// null first and default null; int-keyed maps are arrays of key/value records with logicalType
// "map" (Avro maps only allow string keys).
//
// Reading back (for the next commit) decodes files with the exact schemas written here: weir reads
// its own manifests, not arbitrary ones; a file whose schema differs is refused with a message.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "lake/iceberg.h"

namespace weir::iceberg {

// The Avro schema JSON of a v2 manifest for `partition_types` (from PartitionTypes()).
std::string ManifestAvroSchema(const PartitionSpec& spec, const std::vector<Type>& partition_types);
// The Avro schema JSON of a v2 manifest list.
std::string ManifestListAvroSchema();

// Encodes a manifest of data files (content "data") written with `spec` under `schema`.
// Each entry's partition tuple must have one value per spec field, of the field's result type.
Result<std::string> WriteManifest(const Schema& schema, const PartitionSpec& spec,
                                  const std::vector<ManifestEntry>& entries);

// The manifest list entry describing a manifest (counts, row counts, partition field summaries).
// `sequence_number` is the committing snapshot's; min_sequence_number is the smallest data
// sequence number of live entries (an ADDED entry with a null one counts as `sequence_number`).
Result<ManifestFile> SummarizeManifest(const PartitionSpec& spec,
                                       const std::vector<Type>& partition_types,
                                       const std::vector<ManifestEntry>& entries,
                                       std::string manifest_path, int64_t manifest_length,
                                       int64_t snapshot_id, int64_t sequence_number);

// Encodes a manifest list. The metadata keys snapshot-id, parent-snapshot-id, sequence-number and
// format-version are written as the Java reference implementation does (readers ignore them).
Result<std::string> WriteManifestList(const std::vector<ManifestFile>& manifests,
                                      int64_t snapshot_id,
                                      std::optional<int64_t> parent_snapshot_id,
                                      int64_t sequence_number);

// Reads a manifest list weir wrote. `what` names the file in errors.
Result<std::vector<ManifestFile>> ReadManifestList(std::string_view file, const std::string& what);

// Reads a manifest weir wrote, with `partition_types` for the partition struct. Null snapshot ids
// and sequence numbers of ADDED entries are inherited from `from` (its manifest list entry), as
// the spec's "Sequence Number Inheritance" prescribes, so every returned entry is explicit.
// The file's size must equal `from.manifest_length` (when set): Avro files have no trailer, so
// this is what tells a manifest cut at a block boundary from a complete one.
Result<std::vector<ManifestEntry>> ReadManifest(std::string_view file,
                                                const std::vector<Type>& partition_types,
                                                const ManifestFile& from, const std::string& what);

}  // namespace weir::iceberg

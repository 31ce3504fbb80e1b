#include "rules/state_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <filesystem>
#include <functional>

namespace weir::rules {

namespace {

// Bookkeeping keys start with a NUL byte: engine entries never do.
const std::string kSeqKey("\0seq", 4);
const std::string kRedoKey("\0redo", 5);

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::OK();
  return Status::IOError("rules state: " + what + ": " + s.ToString());
}

void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
bool GetU64(std::string_view& in, uint64_t* v) {
  if (in.size() < 8) return false;
  *v = 0;
  for (int i = 0; i < 8; ++i) *v |= static_cast<uint64_t>(static_cast<uint8_t>(in[i])) << (8 * i);
  in.remove_prefix(8);
  return true;
}

}  // namespace

struct StateStore::Impl {
  std::unique_ptr<rocksdb::DB> db;
  std::string dir;
  std::string redo;  // the prepared checkpoint's WriteBatch data
};

StateStore::~StateStore() = default;

Result<std::unique_ptr<StateStore>> StateStore::Open(const std::string& dir,
                                                     int64_t committed_seq) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("creating " + dir + ": " + ec.message());
  rocksdb::Options o;
  o.create_if_missing = true;
  // Small and mostly written once per commit; keep the footprint modest on a laptop.
  o.max_background_jobs = 2;
  o.keep_log_file_num = 2;
  o.max_open_files = 256;
  rocksdb::DB* raw = nullptr;
  WEIR_RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(o, dir, &raw), "opening " + dir));
  std::unique_ptr<StateStore> s(new StateStore());
  s->impl_ = std::make_unique<Impl>();
  s->impl_->db.reset(raw);
  s->impl_->dir = dir;
  std::string v;
  rocksdb::Status st = raw->Get(rocksdb::ReadOptions(), kSeqKey, &v);
  if (st.IsNotFound()) {
    s->seq_ = 0;
  } else {
    WEIR_RETURN_IF_ERROR(FromRocks(st, "reading its checkpoint number"));
    std::string_view in(v);
    uint64_t seq = 0;
    if (!GetU64(in, &seq)) return Status::Corruption("rules state in " + dir + ": bad checkpoint number");
    s->seq_ = static_cast<int64_t>(seq);
  }
  std::string redo;
  st = raw->Get(rocksdb::ReadOptions(), kRedoKey, &redo);
  if (!st.IsNotFound()) {
    WEIR_RETURN_IF_ERROR(FromRocks(st, "reading its redo record"));
    std::string_view in(redo);
    uint64_t redo_seq = 0;
    if (!GetU64(in, &redo_seq)) return Status::Corruption("rules state in " + dir + ": bad redo record");
    s->impl_->redo = std::string(in);
    s->prepared_ = static_cast<int64_t>(redo_seq);
    if (s->prepared_ == committed_seq && s->seq_ == committed_seq - 1) {
      WEIR_RETURN_IF_ERROR(s->Apply(committed_seq));  // committed, not applied
    } else {
      WEIR_RETURN_IF_ERROR(s->Discard(s->prepared_));  // never committed
    }
  }
  if (s->seq_ != committed_seq) {
    return Status::Corruption(
        "the rules state in " + dir + " is at checkpoint " + std::to_string(s->seq_) +
        " but the derived table's last commit is " + std::to_string(committed_seq) +
        ": they do not belong together (a store or table copied or deleted on its own?). "
        "Run the dataset with `weir run --restart` to derive everything again");
  }
  return s;
}

Status StateStore::ForEach(
    const std::function<Status(std::string_view, std::string_view)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key();
    if (k.size() > 0 && k[0] == '\0') continue;
    WEIR_RETURN_IF_ERROR(fn(std::string_view(k.data(), k.size()),
                            std::string_view(it->value().data(), it->value().size())));
  }
  return FromRocks(it->status(), "reading");
}

Status StateStore::Prepare(const std::vector<Change>& changes, int64_t seq) {
  // In key order: Apply's inserts then walk RocksDB's memtable (a skip list) forwards from the
  // previous one instead of searching it from the top for each key, which was a fifth of the
  // rules stage's CPU in bench/rules with the changes in hash order. Stable: a key listed twice
  // keeps its last value.
  std::vector<const Change*> order;
  order.reserve(changes.size());
  for (const auto& c : changes) order.push_back(&c);
  std::stable_sort(order.begin(), order.end(),
                   [](const Change* a, const Change* b) { return a->first < b->first; });
  rocksdb::WriteBatch batch;
  for (const Change* c : order) {
    if (c->second) {
      batch.Put(c->first, *c->second);
    } else {
      batch.Delete(c->first);
    }
  }
  std::string s;
  PutU64(s, static_cast<uint64_t>(seq));
  batch.Put(kSeqKey, s);
  batch.Delete(kRedoKey);
  // The batch, applied later as it is, also drops the redo and moves "seq".
  impl_->redo = batch.Data();
  std::string record;
  PutU64(record, static_cast<uint64_t>(seq));
  record += impl_->redo;
  rocksdb::WriteOptions wo;
  wo.sync = true;  // durable before the store commit that names this checkpoint
  WEIR_RETURN_IF_ERROR(FromRocks(impl_->db->Put(wo, kRedoKey, record),
                                 "writing checkpoint " + std::to_string(seq)));
  prepared_ = seq;
  return Status::OK();
}

Status StateStore::Apply(int64_t seq) {
  if (seq != prepared_) return Status::Internal("rules state: applying a checkpoint that is not prepared");
  rocksdb::WriteBatch batch(impl_->redo);
  // Not synced: until it is on disk the redo is too, and Open applies it again.
  WEIR_RETURN_IF_ERROR(FromRocks(impl_->db->Write(rocksdb::WriteOptions(), &batch),
                                 "applying checkpoint " + std::to_string(seq)));
  seq_ = seq;
  prepared_ = -1;
  impl_->redo.clear();
  return Status::OK();
}

Status StateStore::Discard(int64_t seq) {
  if (seq != prepared_) return Status::OK();
  WEIR_RETURN_IF_ERROR(FromRocks(impl_->db->Delete(rocksdb::WriteOptions(), kRedoKey),
                                 "dropping checkpoint " + std::to_string(seq)));
  prepared_ = -1;
  impl_->redo.clear();
  return Status::OK();
}

uint64_t StateStore::DiskBytes() const {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(impl_->dir, ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return total;
}

}  // namespace weir::rules

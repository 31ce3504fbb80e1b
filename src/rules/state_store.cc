#include "rules/state_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <filesystem>
#include <functional>

namespace weir::rules {

namespace {

// Bookkeeping keys start with a NUL byte: engine entries never do.
const std::string kSeqKey("\0seq", 4);
const std::string kUndoKey("\0undo", 5);

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
bool GetBytes(std::string_view& in, std::string_view* out) {
  uint64_t n = 0;
  if (!GetU64(in, &n) || in.size() < n) return false;
  *out = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

}  // namespace

struct StateStore::Impl {
  std::unique_ptr<rocksdb::DB> db;
  std::string dir;
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
  auto st = raw->Get(rocksdb::ReadOptions(), kSeqKey, &v);
  if (st.IsNotFound()) {
    s->seq_ = 0;
  } else {
    WEIR_RETURN_IF_ERROR(FromRocks(st, "reading its checkpoint number"));
    std::string_view in(v);
    uint64_t seq = 0;
    if (!GetU64(in, &seq)) return Status::Corruption("rules state in " + dir + ": bad checkpoint number");
    s->seq_ = static_cast<int64_t>(seq);
  }
  if (s->seq_ == committed_seq + 1) {
    WEIR_RETURN_IF_ERROR(s->Undo(s->seq_));
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

Status StateStore::Checkpoint(const std::vector<Change>& changes, int64_t seq) {
  rocksdb::WriteBatch batch;
  std::string undo;
  PutU64(undo, static_cast<uint64_t>(seq_));
  for (const auto& [key, value] : changes) {
    std::string old;
    auto st = impl_->db->Get(rocksdb::ReadOptions(), key, &old);
    if (!st.ok() && !st.IsNotFound()) return FromRocks(st, "reading " + key);
    PutU64(undo, key.size());
    undo += key;
    undo.push_back(st.ok() ? '\1' : '\0');
    if (st.ok()) {
      PutU64(undo, old.size());
      undo += old;
    }
    if (value) {
      batch.Put(key, *value);
    } else {
      batch.Delete(key);
    }
  }
  batch.Put(kUndoKey, undo);
  std::string s;
  PutU64(s, static_cast<uint64_t>(seq));
  batch.Put(kSeqKey, s);
  rocksdb::WriteOptions wo;
  wo.sync = true;  // durable before the store commit that names this checkpoint
  WEIR_RETURN_IF_ERROR(FromRocks(impl_->db->Write(wo, &batch), "writing checkpoint " + std::to_string(seq)));
  seq_ = seq;
  return Status::OK();
}

Status StateStore::Undo(int64_t seq) {
  if (seq != seq_) return Status::Internal("rules state: undo of a checkpoint that is not the last");
  std::string undo;
  auto st = impl_->db->Get(rocksdb::ReadOptions(), kUndoKey, &undo);
  if (st.IsNotFound()) {
    return Status::Corruption("the rules state in " + impl_->dir + " has no undo for checkpoint " +
                              std::to_string(seq));
  }
  WEIR_RETURN_IF_ERROR(FromRocks(st, "reading the undo"));
  std::string_view in(undo);
  uint64_t prev = 0;
  if (!GetU64(in, &prev)) return Status::Corruption("rules state: bad undo record");
  rocksdb::WriteBatch batch;
  while (!in.empty()) {
    std::string_view key, value;
    if (!GetBytes(in, &key) || in.empty()) return Status::Corruption("rules state: bad undo record");
    const bool present = in[0] == '\1';
    in.remove_prefix(1);
    if (present) {
      if (!GetBytes(in, &value)) return Status::Corruption("rules state: bad undo record");
      batch.Put(rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(value.data(), value.size()));
    } else {
      batch.Delete(rocksdb::Slice(key.data(), key.size()));
    }
  }
  batch.Delete(kUndoKey);
  std::string s;
  PutU64(s, prev);
  batch.Put(kSeqKey, s);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  WEIR_RETURN_IF_ERROR(FromRocks(impl_->db->Write(wo, &batch), "undoing checkpoint " + std::to_string(seq)));
  seq_ = static_cast<int64_t>(prev);
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

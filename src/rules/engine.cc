#include "rules/engine.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <iterator>
#include <system_error>
#include <unordered_set>
#include <utility>

#include "core/config.h"
#include "core/text.h"
#include "core/text_util.h"

namespace weir::rules {

namespace {

// The shard of a rule's key (Engine::Create's `shards`): FNV-1a, the same in every build, so a
// checkpoint's entries go back to the shard that holds their key whatever wrote them.
uint32_t ShardOf(std::string_view key, uint32_t n) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<uint32_t>(h % n);
}

// Runs fn(0) .. fn(n - 1) at once: fn(0) on this thread, the others on a thread each, and
// returns when all are done. One whose thread cannot be started runs here, after fn(0).
void OnThreads(size_t n, const std::function<void(size_t)>& fn) {
  std::vector<std::future<void>> others;
  std::vector<size_t> here;
  for (size_t i = 1; i < n; ++i) {
    try {
      others.push_back(std::async(std::launch::async, fn, i));
    } catch (const std::system_error&) {
      here.push_back(i);
    }
  }
  fn(0);
  for (size_t i : here) fn(i);
  for (auto& f : others) f.get();
}

// ---- bytes: the spool and state encodings (little-endian fixed width, length-prefixed) ----

void PutU64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 8);
}
void PutI64(std::string& out, int64_t v) { PutU64(out, static_cast<uint64_t>(v)); }
void PutBytes(std::string& out, std::string_view s) {
  PutU64(out, s.size());
  out.append(s.data(), s.size());
}

class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  bool done() const { return pos_ >= b_.size(); }
  bool ok() const { return ok_; }
  size_t left() const { return b_.size() - pos_; }
  uint64_t U64() {
    if (b_.size() - pos_ < 8) {
      ok_ = false;
      pos_ = b_.size();
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(b_[pos_ + i])) << (8 * i);
    pos_ += 8;
    return v;
  }
  int64_t I64() { return static_cast<int64_t>(U64()); }
  uint8_t U8() {
    if (pos_ >= b_.size()) {
      ok_ = false;
      return 0;
    }
    return static_cast<uint8_t>(b_[pos_++]);
  }
  std::string_view Bytes() {
    const uint64_t n = U64();
    if (!ok_ || b_.size() - pos_ < n) {
      ok_ = false;
      pos_ = b_.size();
      return {};
    }
    std::string_view s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }

 private:
  std::string_view b_;
  size_t pos_ = 0;
  bool ok_ = true;
};

void PutCell(std::string& out, const Cell& c) {
  out.push_back(static_cast<char>(c.tag));
  switch (c.tag) {
    case 1:
    case 3:
      PutI64(out, c.i);
      break;
    case 2: {
      uint64_t bits;
      std::memcpy(&bits, &c.d, 8);
      PutU64(out, bits);
      break;
    }
    case 4:
      PutBytes(out, c.s);
      break;
    default:
      break;
  }
}

Cell GetCell(Reader& r) {
  Cell c;
  c.tag = r.U8();
  switch (c.tag) {
    case 1:
    case 3:
      c.i = r.I64();
      break;
    case 2: {
      const uint64_t bits = r.U64();
      std::memcpy(&c.d, &bits, 8);
      break;
    }
    case 4:
      c.s = std::string(r.Bytes());
      break;
    default:
      break;
  }
  return c;
}

void PutEvent(std::string& out, const Event& e) {
  PutI64(out, e.t);
  PutU64(out, e.seq);
  PutU64(out, e.cells.size());
  for (const auto& c : e.cells) PutCell(out, c);
}

Event GetEvent(Reader& r) {
  Event e;
  e.t = r.I64();
  e.seq = r.U64();
  const uint64_t n = r.U64();
  if (n <= r.left()) e.cells.reserve(n);  // a damaged count is caught below, not allocated
  for (uint64_t i = 0; i < n && r.ok(); ++i) e.cells.push_back(GetCell(r));  // stops at the end
  return e;
}

Cell CellAt(const ColumnBuffer& c, size_t row) {
  Cell out;
  if (c.IsNull(row)) return out;
  switch (c.type()) {
    case ColumnType::kString:
    case ColumnType::kJson:
      out.tag = 4;
      out.s = std::string(c.StringAt(row));
      break;
    case ColumnType::kInt64:
    case ColumnType::kTimestampMs:
      out.tag = 1;
      out.i = c.Int64At(row);
      break;
    case ColumnType::kDate:
      out.tag = 1;
      out.i = c.DateAt(row);
      break;
    case ColumnType::kDouble:
      out.tag = 2;
      out.d = c.DoubleAt(row);
      break;
    case ColumnType::kBool:
      out.tag = 3;
      out.i = c.BoolAt(row) ? 1 : 0;
      break;
  }
  return out;
}

Value ValueOf(const Cell& c) {
  switch (c.tag) {
    case 1:
      return Value::Number(static_cast<double>(c.i));
    case 2:
      return Value::Number(c.d);
    case 3:
      return Value::Bool(c.i != 0);
    case 4:
      return Value::String(c.s);
    default:
      return Value::Null();
  }
}

std::string FormatDouble(double d) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.17g", d);
  // The shortest spelling that reads back the same value.
  for (int prec = 1; prec <= 17; ++prec) {
    char shorter[32];
    std::snprintf(shorter, sizeof(shorter), "%.*g", prec, d);
    if (std::strtod(shorter, nullptr) == d) return shorter;
  }
  return buf;
}

// A key's text: strings as they are, numbers in their shortest decimal form.
std::string KeyText(const Cell& c, ColumnType type) {
  switch (c.tag) {
    case 1:
      return type == ColumnType::kDate ? FormatDate(static_cast<int32_t>(c.i))
                                       : std::to_string(c.i);
    case 2:
      return FormatDouble(c.d);
    case 3:
      return c.i != 0 ? "true" : "false";
    default:
      return c.s;
  }
}

// A value inside `data`: timestamps as ISO 8601 UTC with milliseconds.
void AppendJsonValue(std::string& out, const Cell& c, ColumnType type) {
  switch (c.tag) {
    case 0:
      out += "null";
      return;
    case 1:
      if (type == ColumnType::kTimestampMs) {
        AppendJsonString(out, FormatTimestampMs(c.i));
      } else if (type == ColumnType::kDate) {
        AppendJsonString(out, FormatDate(static_cast<int32_t>(c.i)));
      } else {
        out += std::to_string(c.i);
      }
      return;
    case 2:
      if (std::isfinite(c.d)) {
        out += FormatDouble(c.d);
      } else {
        out += "null";
      }
      return;
    case 3:
      out += c.i != 0 ? "true" : "false";
      return;
    default:
      if (type == ColumnType::kJson) {
        out += c.s;  // already JSON
      } else {
        AppendJsonString(out, c.s);
      }
      return;
  }
}

}  // namespace

// ---- compiled rules and keyed state ----

struct Engine::Impl {
  struct Step {
    std::string as;
    Expr where;
    int64_t within_ms = 0;
  };
  struct EmitField {
    std::string name;
    size_t step = 0;
    size_t slot = 0;
    ColumnType type = ColumnType::kString;
  };
  struct Pattern {
    std::string name;
    size_t key_slot = 0;
    ColumnType key_type = ColumnType::kString;
    std::vector<Step> steps;
    std::optional<Expr> absent_where;
    int64_t absent_within_ms = 0;
    std::vector<EmitField> emit;
  };
  // A partial match: the records that matched its steps so far.
  struct Partial {
    uint64_t id = 0;
    // matched[0] is the first step's. Shared: one record often starts partial matches of
    // several patterns.
    std::vector<std::shared_ptr<const Event>> matched;
    int64_t t1() const { return matched[0]->t; }
  };
  struct AggregateFn {
    std::string name;
    Aggregate agg;
    size_t slot = 0;  // of agg.column
  };
  struct Segment {
    std::string name;
    size_t key_slot = 0;
    ColumnType key_type = ColumnType::kString;
    int64_t window_ms = 0;
    std::vector<AggregateFn> aggs;
    std::vector<std::string> bucket_names;
    std::vector<std::optional<Expr>> bucket_when;  // the last: none
  };
  // A record in a segment's window: what it contributes to each aggregate (tag 0: nothing).
  struct WindowEntry {
    int64_t t = 0;
    std::vector<Cell> contrib;
  };
  // A key's window contents, oldest first: a vector read from `head` (a std::deque takes a
  // 512-byte block even for one entry, and most keys hold a few).
  //
  // Entries are numbered per key in arrival order (first_no is the front's): a checkpoint writes
  // the entries that came since the last one as one chunk, and deletes a chunk once all its
  // entries have left (see TakeKeyed).
  struct Window {
    std::vector<WindowEntry> v;
    size_t head = 0;
    uint64_t first_no = 0;
    bool empty() const { return head == v.size(); }
    size_t size() const { return v.size() - head; }
    uint64_t end_no() const { return first_no + size(); }
    WindowEntry& front() { return v[head]; }
    const WindowEntry& at_no(uint64_t no) const { return v[head + static_cast<size_t>(no - first_no)]; }
    void push_back(WindowEntry w) { v.push_back(std::move(w)); }
    void pop_front() {
      ++first_no;
      if (++head == v.size()) {
        v.clear();
        head = 0;
      } else if (head >= 64 && head * 2 >= v.size()) {
        v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(head));
        head = 0;
      }
    }
    auto begin() const { return v.begin() + static_cast<std::ptrdiff_t>(head); }
    auto end() const { return v.end(); }
  };
  struct Acc {
    int64_t count = 0;
    double sum = 0;
    // min / max and count(distinct) only: most aggregates are counts and need neither.
    std::unique_ptr<std::map<double, int64_t>> numbers;
    std::unique_ptr<std::map<std::string, int64_t>> distinct;
  };
  struct SegKey {
    Window window;
    std::vector<Acc> accs;
    size_t bucket = 0;
    int64_t timer_at = INT64_MIN;  // the armed expiry timer; INT64_MIN: none
    bool evaluate = false;         // in to_evaluate
    bool dirty = false;            // in seg_dirty since the last TakeChanges
    // The chunks of window entries the checkpoints hold: the first number of each, ascending;
    // each ends where the next starts, the last at saved_hi.
    std::vector<uint64_t> chunks;
    uint64_t saved_hi = 0;
  };
  struct Timer {
    int64_t time;
    uint32_t rule;  // patterns first, then segments
    std::string key;
    // A pattern's partial; a segment's key's node in seg_state (SegTimerId): the node outlives
    // the timer, since Evaluate erases a key only when its window is empty, and a key's timer
    // is armed exactly while its window is not.
    uint64_t id;
  };
  // A min-heap in (time, rule, slot) order: a timer whose partial match or window moved on
  // is left in it and does nothing when it comes up (its deadline no longer matches), which is
  // cheaper than finding it. The heap holds 24-byte entries and the keys wait in slots beside
  // it, so a sift moves no strings (with the keys in the entries, pop was ~9% of the engine's
  // time in bench/rules).
  struct TimerQueue {
    struct Entry {
      int64_t time;
      uint64_t id;
      uint32_t rule;
      uint32_t slot;  // into keys
    };
    std::vector<Entry> heap;
    std::vector<std::string> keys;
    std::vector<uint32_t> free_slots;
    bool empty() const { return heap.empty(); }
    int64_t top_time() const { return heap.front().time; }
    uint32_t patterns = 0;  // rules below this are patterns (their ids are partial numbers)
    // "a comes after b": std::*_heap keep the first timer at the front. Timers of one instant
    // and rule name different keys or partial matches, and firing one changes nothing another
    // sees, so their order changes only the order of the derived records. A pattern's fire in
    // the order its partial matches were made (their ids); a segment's in slot order, the same
    // whenever the same input is replayed from the same state (after a restore, the slots
    // follow the load). (Comparing the keys instead read a string in another cache line at
    // each step of a sift: a tenth of the rules stage's time in bench/rules.)
    auto After() const {
      return [n = patterns](const Entry& a, const Entry& b) {
        if (a.time != b.time) return a.time > b.time;
        if (a.rule != b.rule) return a.rule > b.rule;
        return a.rule < n ? a.id > b.id : a.slot > b.slot;
      };
    }
    void insert(Timer t) {
      uint32_t slot = 0;
      if (free_slots.empty()) {
        slot = static_cast<uint32_t>(keys.size());
        keys.push_back(std::move(t.key));
      } else {
        slot = free_slots.back();
        free_slots.pop_back();
        keys[slot] = std::move(t.key);
      }
      heap.push_back(Entry{t.time, t.id, t.rule, slot});
      std::push_heap(heap.begin(), heap.end(), After());
    }
    Timer pop() {
      std::pop_heap(heap.begin(), heap.end(), After());
      const Entry top = heap.back();
      heap.pop_back();
      Timer t{top.time, top.rule, std::move(keys[top.slot]), top.id};
      free_slots.push_back(top.slot);
      return t;
    }
  };

  Engine* e = nullptr;
  std::vector<Pattern> patterns;
  std::vector<Segment> segments;
  std::vector<std::unordered_map<std::string, std::vector<Partial>>> partials;
  std::vector<std::unordered_map<std::string, SegKey>> seg_state;
  using SegNode = std::pair<const std::string, SegKey>;
  static uint64_t SegTimerId(SegNode* node) { return reinterpret_cast<uintptr_t>(node); }
  // This shard's keys: those whose ShardOf is `shard` (all when nshards is 1).
  uint32_t shard = 0;
  uint32_t nshards = 1;
  TimerQueue timers;
  uint64_t next_partial = 1;
  std::vector<Derived> out;
  // Checkpointing: the state keys written since the last TakeChanges.
  std::vector<std::unordered_set<std::string>> dirty;  // patterns' changed keys, by rule
  // Segments' changed keys, by segment: every record of a key changes its window, so a flag on
  // the key's state saves a set insert per record. A key erased and made again may be listed
  // twice (TakeKeyed writes it once).
  std::vector<std::vector<std::string>> seg_dirty;
  // Segments' keys erased since the last TakeChanges, by segment, with the window entries the
  // last checkpoint holds for them (deleted at the next).
  struct Gone {
    std::string key;
    std::vector<uint64_t> chunks;
  };
  std::vector<std::vector<Gone>> seg_gone;
  void MarkSegDirty(size_t si, SegKey& k, const std::string& key) {
    if (k.dirty) return;
    k.dirty = true;
    seg_dirty[si].push_back(key);
  }

  static std::string BufferKey(const std::pair<int64_t, uint64_t>& k) {
    std::string key = "b";
    const uint64_t t = static_cast<uint64_t>(k.first) ^ (1ull << 63);  // sorts as signed
    for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>(t >> (8 * i)));
    for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>(k.second >> (8 * i)));
    return key;
  }
  // (segment, key) whose window changed at the instant being processed; SegKey::evaluate keeps
  // each in once. The nodes of an unordered_map stay where they are until erased, and only
  // Evaluate erases (a listed node, after its last use).
  std::vector<std::pair<uint32_t, std::pair<const std::string, SegKey>*>> to_evaluate;

  class EventRow final : public Row {
   public:
    EventRow(const Engine& en, const Event& ev) : en_(en), ev_(ev) {}
    Value Get(size_t name_index) const override {
      const int slot = en_.slot_of_[name_index];
      if (slot < 0) return Value::Null();
      return ValueOf(ev_.cells[static_cast<size_t>(slot)]);
    }

   private:
    const Engine& en_;
    const Event& ev_;
  };

  class AggRow final : public Row {
   public:
    AggRow(const Segment& s, const SegKey& k) : s_(s), k_(k) {}
    Value Get(size_t i) const override {
      const Acc& a = k_.accs[i];
      switch (s_.aggs[i].agg.func) {
        case Aggregate::Func::kCountStar:
        case Aggregate::Func::kCount:
          return Value::Number(static_cast<double>(a.count));
        case Aggregate::Func::kCountDistinct:
          return Value::Number(static_cast<double>(a.distinct ? a.distinct->size() : 0));
        case Aggregate::Func::kSum:
          return a.count == 0 ? Value::Null() : Value::Number(a.sum);
        case Aggregate::Func::kMin:
          return !a.numbers || a.numbers->empty() ? Value::Null()
                                                  : Value::Number(a.numbers->begin()->first);
        case Aggregate::Func::kMax:
          return !a.numbers || a.numbers->empty() ? Value::Null()
                                                  : Value::Number(a.numbers->rbegin()->first);
      }
      return Value::Null();
    }

   private:
    const Segment& s_;
    const SegKey& k_;
  };

  uint32_t SegRule(size_t si) const { return static_cast<uint32_t>(patterns.size() + si); }

  void Emit(const std::string& rule, const std::string& key, int64_t t, std::string data) {
    out.push_back(Derived{rule, key, t, std::move(data)});
  }

  std::string PatternData(const Pattern& p, const Partial& m) const {
    std::string d = "{";
    for (size_t i = 0; i < p.emit.size(); ++i) {
      const auto& f = p.emit[i];
      if (i > 0) d += ',';
      AppendJsonString(d, f.name);
      d += ':';
      if (f.step < m.matched.size()) {
        AppendJsonValue(d, m.matched[f.step]->cells[f.slot], f.type);
      } else {
        d += "null";
      }
    }
    d += '}';
    return d;
  }

  // The deadline a partial match's timer fires at: the absent clause's, or the next step's.
  int64_t Deadline(const Pattern& p, const Partial& m) const {
    if (p.absent_where) return m.t1() + p.absent_within_ms;
    return m.t1() + p.steps[m.matched.size()].within_ms;
  }

  // The text of the event's key column at `slot`, made once per event; nullptr when it is
  // NULL or another shard's key.
  std::vector<std::string> key_text;
  std::vector<uint8_t> key_made;  // 0: not yet, 1: this shard's, 2: NULL or another's
  const std::string* KeyOf(const Event& ev, size_t slot, ColumnType type) {
    if (key_made[slot] == 0) {
      const Cell& kc = ev.cells[slot];
      if (kc.tag == 0) {
        key_made[slot] = 2;
      } else {
        key_text[slot] = KeyText(kc, type);
        key_made[slot] = nshards == 1 || ShardOf(key_text[slot], nshards) == shard ? 1 : 2;
      }
    }
    return key_made[slot] == 1 ? &key_text[slot] : nullptr;
  }

  void ProcessPattern(uint32_t pi, const std::shared_ptr<const Event>& evp) {
    const Event& ev = *evp;
    const Pattern& p = patterns[pi];
    const std::string* keyp = KeyOf(ev, p.key_slot, p.key_type);
    if (keyp == nullptr) return;
    const std::string& key = *keyp;
    EventRow row(*e, ev);
    auto& map = partials[pi];
    auto it = map.find(key);
    bool changed = false;
    if (it != map.end()) {
      auto& list = it->second;
      const bool absent_hit = p.absent_where && p.absent_where->Passes(row);
      for (size_t i = 0; i < list.size();) {
        Partial& m = list[i];
        if (absent_hit && ev.t <= m.t1() + p.absent_within_ms) {
          list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));  // cancelled
          changed = true;
          continue;
        }
        const size_t next = m.matched.size();
        if (next < p.steps.size()) {
          const Step& s = p.steps[next];
          if (ev.t - m.t1() <= s.within_ms && s.where.Passes(row)) {
            m.matched.push_back(evp);
            changed = true;
            if (m.matched.size() == p.steps.size()) {
              if (!p.absent_where) {
                Emit(p.name, key, ev.t, PatternData(p, m));
                list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
                continue;
              }
            } else if (!p.absent_where) {
              timers.insert(Timer{Deadline(p, m), pi, key, m.id});
            }
          }
        }
        ++i;
      }
      if (list.empty()) {
        map.erase(it);
        it = map.end();
      }
    }
    if (p.steps[0].where.Passes(row)) {
      Partial m;
      m.id = next_partial++;
      m.matched.push_back(evp);
      if (p.steps.size() == 1 && !p.absent_where) {
        Emit(p.name, key, ev.t, PatternData(p, m));
      } else {
        timers.insert(Timer{Deadline(p, m), pi, key, m.id});
        map[key].push_back(std::move(m));
        changed = true;
      }
    }
    if (changed) dirty[pi].insert(key);
  }

  void FirePatternTimer(const Timer& t) {
    const Pattern& p = patterns[t.rule];
    auto& map = partials[t.rule];
    auto it = map.find(t.key);
    if (it == map.end()) return;
    auto& list = it->second;
    auto m = std::find_if(list.begin(), list.end(), [&](const Partial& x) { return x.id == t.id; });
    if (m == list.end() || Deadline(p, *m) != t.time) return;  // gone, or advanced since
    if (p.absent_where && m->matched.size() == p.steps.size()) {
      Emit(p.name, t.key, t.time, PatternData(p, *m));
    }
    list.erase(m);
    if (list.empty()) map.erase(it);
    dirty[t.rule].insert(t.key);
  }

  void AddToAcc(const Segment& s, SegKey& k, const WindowEntry& w, int sign) {
    for (size_t a = 0; a < s.aggs.size(); ++a) {
      const Cell& c = w.contrib[a];
      if (c.tag == 0) continue;
      Acc& acc = k.accs[a];
      acc.count += sign;
      switch (s.aggs[a].agg.func) {
        case Aggregate::Func::kSum:
          acc.sum += sign * (c.tag == 1 ? static_cast<double>(c.i) : c.d);
          if (acc.count == 0) acc.sum = 0;  // no drift left behind by an emptied window
          break;
        case Aggregate::Func::kMin:
        case Aggregate::Func::kMax: {
          const double v = c.tag == 1 ? static_cast<double>(c.i) : c.d;
          if (!acc.numbers) acc.numbers = std::make_unique<std::map<double, int64_t>>();
          if (((*acc.numbers)[v] += sign) == 0) acc.numbers->erase(v);
          break;
        }
        case Aggregate::Func::kCountDistinct:
          if (!acc.distinct) acc.distinct = std::make_unique<std::map<std::string, int64_t>>();
          if (((*acc.distinct)[c.s] += sign) == 0) acc.distinct->erase(c.s);
          break;
        default:
          break;
      }
    }
  }

  void ProcessSegment(size_t si, const Event& ev) {
    const Segment& s = segments[si];
    const std::string* keyp = KeyOf(ev, s.key_slot, s.key_type);
    if (keyp == nullptr) return;
    const std::string& key = *keyp;
    EventRow row(*e, ev);
    WindowEntry w;
    w.t = ev.t;
    w.contrib.resize(s.aggs.size());
    for (size_t a = 0; a < s.aggs.size(); ++a) {
      const auto& fn = s.aggs[a];
      if (fn.agg.where && !fn.agg.where->Passes(row)) continue;
      if (fn.agg.func == Aggregate::Func::kCountStar) {
        w.contrib[a].tag = 1;
        continue;
      }
      const Cell& c = ev.cells[fn.slot];
      if (c.tag == 0) continue;
      if (fn.agg.func == Aggregate::Func::kCountDistinct) {
        w.contrib[a].tag = 4;
        w.contrib[a].s = std::string(1, static_cast<char>(c.tag)) +
                         KeyText(c, e->schema_[e->slots_[fn.slot]].type);
      } else {
        w.contrib[a] = c;
      }
    }
    auto [it, fresh] = seg_state[si].try_emplace(key);
    SegKey& k = it->second;
    if (fresh) {
      k.accs.resize(s.aggs.size());
      k.bucket = s.bucket_names.size() - 1;
    }
    AddToAcc(s, k, w, +1);
    k.window.push_back(std::move(w));
    if (k.timer_at == INT64_MIN) {
      k.timer_at = ev.t + s.window_ms;
      timers.insert(Timer{k.timer_at, SegRule(si), key, SegTimerId(&*it)});
    }
    if (!k.evaluate) {
      k.evaluate = true;
      to_evaluate.emplace_back(static_cast<uint32_t>(si), &*it);
    }
    MarkSegDirty(si, k, key);
  }

  void FireSegmentTimer(const Timer& t) {
    const size_t si = t.rule - patterns.size();
    const Segment& s = segments[si];
    // No lookup: the timer names its key's node (Timer::id). (A find here was ~5% of the
    // engine's time in bench/rules.)
    SegNode* node = reinterpret_cast<SegNode*>(static_cast<uintptr_t>(t.id));
    SegKey& k = node->second;
    if (k.timer_at != t.time) return;
    while (!k.window.empty() && k.window.front().t + s.window_ms <= t.time) {
      AddToAcc(s, k, k.window.front(), -1);
      k.window.pop_front();
    }
    k.timer_at = INT64_MIN;
    if (!k.window.empty()) {
      k.timer_at = k.window.front().t + s.window_ms;
      timers.insert(Timer{k.timer_at, t.rule, t.key, t.id});
    }
    if (!k.evaluate) {
      k.evaluate = true;
      to_evaluate.emplace_back(static_cast<uint32_t>(si), node);
    }
    MarkSegDirty(si, k, t.key);
  }

  void Evaluate(int64_t instant) {
    for (const auto& [si, node] : to_evaluate) {
      const Segment& s = segments[si];
      const std::string& key = node->first;
      SegKey& k = node->second;
      k.evaluate = false;
      AggRow row(s, k);
      size_t b = s.bucket_names.size() - 1;
      for (size_t i = 0; i + 1 < s.bucket_names.size(); ++i) {
        if (s.bucket_when[i]->Passes(row)) {
          b = i;
          break;
        }
      }
      if (b != k.bucket) {
        std::string d = "{\"from\":";
        AppendJsonString(d, s.bucket_names[k.bucket]);
        d += ",\"to\":";
        AppendJsonString(d, s.bucket_names[b]);
        d += '}';
        Emit(s.name, key, instant, std::move(d));
        k.bucket = b;
      }
      // Listed once, and no timer is armed (an empty window has none; the check keeps a
      // damaged checkpoint from leaving a timer that names a freed node): nothing else points
      // at it.
      if (k.window.empty() && k.timer_at == INT64_MIN && k.bucket == s.bucket_names.size() - 1) {
        if (!k.chunks.empty()) seg_gone[si].push_back(Gone{key, std::move(k.chunks)});
        seg_state[si].erase(seg_state[si].find(key));
      }
    }
    to_evaluate.clear();
  }

  void ProcessEvent(const std::shared_ptr<const Event>& evp) {
    std::fill(key_made.begin(), key_made.end(), 0);
    for (uint32_t pi = 0; pi < patterns.size(); ++pi) ProcessPattern(pi, evp);
    for (size_t si = 0; si < segments.size(); ++si) ProcessSegment(si, *evp);
  }

  // Processes, in event-time order, every record and timer before the watermark: this shard's
  // keys. The buffer is read, not changed (RunShards drops what every shard passed).
  void Run() {
    const int64_t w = e->watermark_;
    const auto& buffer = e->buffer_;
    auto next = buffer.begin();
    while (true) {
      const int64_t te = next == buffer.end() ? INT64_MAX : next->first.first;
      const int64_t tt = timers.empty() ? INT64_MAX : timers.top_time();
      const int64_t instant = std::min(te, tt);
      if (instant == INT64_MAX || (w != kEndOfTime && instant >= w)) break;
      // Records at an instant come before its timers (a record at a deadline is in time).
      while (next != buffer.end() && next->first.first == instant) {
        ProcessEvent(next->second);
        ++next;
      }
      while (!timers.empty() && timers.top_time() == instant) {
        Timer t = timers.pop();
        if (t.rule < patterns.size()) {
          FirePatternTimer(t);
        } else {
          FireSegmentTimer(t);
        }
      }
      Evaluate(instant);
    }
  }

  // ---- state entries: "b" the reorder buffer, "m" counters, "r<rule>/<key>" keyed state ----

  static std::string StateKey(uint32_t rule, const std::string& key) {
    // "r" and the rule as 8 hex digits (sorted by rule), "/", the key.
    static constexpr char kHex[] = "0123456789abcdef";
    std::string k;
    k.reserve(10 + key.size());
    k.push_back('r');
    for (int i = 7; i >= 0; --i) k.push_back(kHex[(rule >> (4 * i)) & 0xf]);
    k.push_back('/');
    k += key;
    return k;
  }

  // A pattern's entry for `key` (nullopt: none); segments encode from their node (EncodeSeg).
  std::optional<std::string> EncodePattern(uint32_t rule, const std::string& key) const {
    auto it = partials[rule].find(key);
    if (it == partials[rule].end()) return std::nullopt;
    std::string v;
    PutU64(v, it->second.size());
    for (const auto& m : it->second) {
      PutU64(v, m.id);
      PutU64(v, m.matched.size());
      for (const auto& ev : m.matched) PutEvent(v, *ev);
    }
    return v;
  }
  // A segment key's entry: bucket, timer, 0, and the number of the window's first entry (the
  // entries are in chunks of their own). Checkpoints before the chunks held the whole window
  // here: bucket, timer, the number of entries and the entries. Both load.
  static std::string EncodeSegHead(const SegKey& k) {
    std::string v;
    v.reserve(32);
    PutU64(v, k.bucket);
    PutI64(v, k.timer_at);
    PutU64(v, 0);
    PutU64(v, k.window.first_no);
    return v;
  }
  static void PutWindowEntry(std::string& v, const WindowEntry& w) {
    PutI64(v, w.t);
    for (const auto& c : w.contrib) PutCell(v, c);
  }
  // A chunk: the entries numbered [from, window end), one after the other.
  static std::string EncodeChunk(const Window& w, uint64_t from) {
    std::string v;
    const size_t cells = w.empty() ? 0 : w.begin()->contrib.size();
    v.reserve(static_cast<size_t>(w.end_no() - from) * (8 + 9 * cells));
    for (uint64_t no = from; no < w.end_no(); ++no) PutWindowEntry(v, w.at_no(no));
    return v;
  }
  // A chunk's entry: "w", the rule as 8 hex digits, "/", the key's length (4 bytes) and bytes,
  // the number of the chunk's first window entry (8 bytes, big-endian: a key's chunks sort in
  // window order, after its head).
  static std::string WindowKey(uint32_t rule, const std::string& key, uint64_t no) {
    std::string k = StateKey(rule, key);
    k[0] = 'w';
    k.resize(10);
    for (int i = 3; i >= 0; --i) k.push_back(static_cast<char>(key.size() >> (8 * i)));
    k += key;
    for (int i = 7; i >= 0; --i) k.push_back(static_cast<char>(no >> (8 * i)));
    return k;
  }

  // This shard's changed keys since the last call: their entries, or deletes.
  void TakeKeyed(std::vector<Change>& out) {
    for (uint32_t rule = 0; rule < dirty.size(); ++rule) {
      for (const auto& key : dirty[rule]) out.emplace_back(StateKey(rule, key), EncodePattern(rule, key));
      dirty[rule].clear();
    }
    for (size_t si = 0; si < seg_dirty.size(); ++si) {
      const uint32_t rule = SegRule(si);
      // Erased keys first: a key erased and made again puts its new entries after (a change
      // listed twice keeps its last value, StateStore::Prepare).
      for (const Gone& g : seg_gone[si]) {
        for (uint64_t c : g.chunks) out.emplace_back(WindowKey(rule, g.key, c), std::nullopt);
      }
      seg_gone[si].clear();
      auto& keys = seg_dirty[si];
      for (const auto& key : keys) {
        // One lookup for the value and the flag. A key listed twice (erased and made again) is
        // written once: the flag is down the second time. An erased one may be deleted twice,
        // which is the same as once.
        auto it = seg_state[si].find(key);
        if (it == seg_state[si].end()) {
          out.emplace_back(StateKey(rule, key), std::nullopt);
          continue;
        }
        SegKey& k = it->second;
        if (!k.dirty) continue;
        k.dirty = false;
        out.emplace_back(StateKey(rule, key), EncodeSegHead(k));
        // Only what changed since the last checkpoint: the chunks whose entries have all left
        // the window go, and the entries that came are one new chunk. (Writing whole windows
        // made a stream's checkpoints grow with its windows: re-encoding them was a third of a
        // live run's CPU in bench/rules/latency.sh. An entry of its own for each window entry
        // made a backfill's two checkpoints 25% slower, for the keys and sorting.)
        const Window& w = k.window;
        size_t gone = 0;
        while (gone < k.chunks.size() &&
               (gone + 1 < k.chunks.size() ? k.chunks[gone + 1] : k.saved_hi) <= w.first_no) {
          out.emplace_back(WindowKey(rule, key, k.chunks[gone]), std::nullopt);
          ++gone;
        }
        k.chunks.erase(k.chunks.begin(), k.chunks.begin() + static_cast<std::ptrdiff_t>(gone));
        const uint64_t from = std::max(k.saved_hi, w.first_no);
        if (from < w.end_no()) {
          out.emplace_back(WindowKey(rule, key, from), EncodeChunk(w, from));
          k.chunks.push_back(from);
        }
        k.saved_hi = w.end_no();
      }
      keys.clear();
    }
  }
  // Rebuilds this shard's timers from its loaded state (Engine::FinishLoad).
  Status FinishLoad();

  Status Decode(uint32_t rule, const std::string& key, std::string_view value) {
    Reader r(value);
    if (rule < patterns.size()) {
      // Counts are checked against the bytes left: a damaged entry is an error, not a huge
      // allocation.
      const uint64_t n = r.U64();
      if (n > value.size()) return Status::Corruption("rules state of '" + key + "' is unreadable");
      std::vector<Partial> list(n);
      for (auto& m : list) {
        m.id = r.U64();
        const uint64_t steps = r.U64();
        if (steps > value.size()) return Status::Corruption("rules state of '" + key + "' is unreadable");
        m.matched.resize(steps);
        for (auto& ev : m.matched) ev = std::make_shared<const Event>(GetEvent(r));
        next_partial = std::max(next_partial, m.id + 1);
      }
      if (!r.ok()) return Status::Corruption("rules state of '" + key + "' is unreadable");
      partials[rule][key] = std::move(list);
      return Status::OK();
    }
    if (rule - patterns.size() >= segments.size()) {
      return Status::Corruption("rules state names rule " + std::to_string(rule) +
                                ", which this dataset does not have");
    }
    const size_t si = rule - patterns.size();
    const Segment& s = segments[si];
    SegKey& k = LoadedSegKey(si, key);
    k.bucket = r.U64();
    k.timer_at = r.I64();
    // Checkpoints before the chunks hold the window here; since, the first entry's number.
    const uint64_t n = r.U64();
    for (uint64_t i = 0; i < n && r.ok(); ++i) {
      WindowEntry w;
      w.t = r.I64();
      for (size_t a = 0; a < s.aggs.size(); ++a) w.contrib.push_back(GetCell(r));
      AddToAcc(s, k, w, +1);
      k.window.push_back(std::move(w));
    }
    if (r.ok() && !r.done()) {
      if (!k.window.empty() || !k.chunks.empty()) {
        return Status::Corruption("rules state of '" + key + "': its entry comes after its window");
      }
      k.window.first_no = r.U64();
      k.saved_hi = k.window.first_no;
    }
    if (!r.ok() || !r.done() || k.bucket >= s.bucket_names.size()) {
      return Status::Corruption("rules state of '" + key + "' is unreadable");
    }
    return Status::OK();
  }

  // A segment key's node while a checkpoint loads: made on its first entry (the head or a
  // window entry) in the default bucket.
  SegKey& LoadedSegKey(size_t si, const std::string& key) {
    auto [it, fresh] = seg_state[si].try_emplace(key);
    if (fresh) {
      it->second.accs.resize(segments[si].aggs.size());
      it->second.bucket = segments[si].bucket_names.size() - 1;
    }
    return it->second;
  }

  // A chunk of window entries (WindowKey) of segment `si`, numbered from `no`: a key's chunks
  // load after its entry (which says where the window starts) and in number order. Entries
  // before the window's start have left it since the chunk was written.
  Status DecodeChunk(size_t si, const std::string& key, uint64_t no, std::string_view value) {
    const Segment& s = segments[si];
    SegKey& k = LoadedSegKey(si, key);
    if (no > k.window.end_no() || (!k.chunks.empty() && no <= k.chunks.back())) {
      return Status::Corruption("rules state of '" + key + "': a chunk of its window from entry " +
                                std::to_string(no) + " does not follow entry " +
                                std::to_string(k.window.end_no()));
    }
    Reader r(value);
    for (uint64_t i = no; !r.done(); ++i) {
      WindowEntry w;
      w.t = r.I64();
      for (size_t a = 0; a < s.aggs.size(); ++a) w.contrib.push_back(GetCell(r));
      if (!r.ok()) return Status::Corruption("rules state of '" + key + "' is unreadable");
      if (i < k.window.end_no()) continue;  // left the window
      AddToAcc(s, k, w, +1);
      k.window.push_back(std::move(w));
    }
    k.chunks.push_back(no);
    k.saved_hi = k.window.end_no();
    return Status::OK();
  }
};

Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::Create(const RulesConfig& cfg,
                                               std::vector<ColumnSchema> schema,
                                               int* error_line, int shards) {
  int line_sink = 0;
  int& line = error_line != nullptr ? *error_line : line_sink;
  if (shards < 1 || shards > 64) {
    return Status::Invalid("rules: " + std::to_string(shards) + " shards; expected 1 to 64");
  }
  std::unique_ptr<Engine> en(new Engine());
  en->schema_ = std::move(schema);
  en->shards_.push_back(std::make_unique<Impl>());
  Impl& im = *en->shards_[0];
  im.e = en.get();
  en->out_of_orderness_ms_ = cfg.out_of_orderness_ms;
  en->idle_timeout_ms_ = cfg.idle_timeout_ms;
  std::vector<std::string> names;
  for (const auto& c : en->schema_) names.push_back(c.name);
  std::set<size_t> used;
  auto column = [&](const std::string& name, const std::string& where,
                    size_t* index) -> Status {
    for (size_t i = 0; i < en->schema_.size(); ++i) {
      if (en->schema_[i].name == name) {
        *index = i;
        used.insert(i);
        return Status::OK();
      }
    }
    return Status::Invalid(where + ": unknown column '" + name + "'" + DidYouMean(name, names));
  };
  auto compile = [&](const std::string& text, const std::string& where) -> Result<Expr> {
    auto x = Expr::Compile(text, en->schema_);
    if (!x.ok()) return Status::Invalid(where + ": " + x.status().message());
    for (size_t u : x->uses()) used.insert(u);
    return x;
  };
  size_t time_col = 0;
  WEIR_RETURN_IF_ERROR(column(cfg.event_time, "rules.event_time", &time_col));
  if (en->schema_[time_col].type != ColumnType::kTimestampMs) {
    return Status::Invalid("rules.event_time: column '" + cfg.event_time + "' has type " +
                           ColumnTypeName(en->schema_[time_col].type) +
                           "; expected a timestamp_ms column");
  }
  // Key, emit and aggregate columns by index first; slots are assigned once all are known.
  std::vector<size_t> key_cols_p(cfg.patterns.size()), key_cols_s(cfg.segments.size());
  im.patterns.resize(cfg.patterns.size());
  for (size_t pi = 0; pi < cfg.patterns.size(); ++pi) {
    const auto& pc = cfg.patterns[pi];
    auto& p = im.patterns[pi];
    line = pc.line;
    const std::string at = "rules.patterns." + pc.name;
    p.name = pc.name;
    WEIR_RETURN_IF_ERROR(column(pc.key, at + ".key", &key_cols_p[pi]));
    p.key_type = en->schema_[key_cols_p[pi]].type;
    if (pc.sequence.empty()) return Status::Invalid(at + ".sequence: needs at least one step");
    for (size_t si = 0; si < pc.sequence.size(); ++si) {
      const auto& sc = pc.sequence[si];
      line = sc.line;
      const std::string sat = at + ".sequence[" + std::to_string(si + 1) + "].where";
      WEIR_ASSIGN_OR_RETURN(Expr x, compile(sc.where, sat));
      p.steps.push_back(Impl::Step{sc.as, std::move(x), sc.within_ms});
    }
    if (pc.absent) {
      line = pc.absent->line;
      WEIR_ASSIGN_OR_RETURN(Expr x, compile(pc.absent->where, at + ".absent.where"));
      p.absent_where = std::move(x);
      p.absent_within_ms = pc.absent->within_ms;
    }
  }
  im.segments.resize(cfg.segments.size());
  for (size_t si = 0; si < cfg.segments.size(); ++si) {
    const auto& sc = cfg.segments[si];
    auto& s = im.segments[si];
    line = sc.line;
    const std::string at = "rules.segments." + sc.name;
    s.name = sc.name;
    s.window_ms = sc.window_ms;
    WEIR_RETURN_IF_ERROR(column(sc.key, at + ".key", &key_cols_s[si]));
    s.key_type = en->schema_[key_cols_s[si]].type;
    Names agg_names;
    for (const auto& ac : sc.aggregates) {
      line = ac.line;
      auto a = Aggregate::Compile(ac.text, en->schema_);
      if (!a.ok()) {
        return Status::Invalid(at + ".aggregates." + ac.name + ": " + a.status().message());
      }
      Impl::AggregateFn fn{ac.name, std::move(*a), 0};
      if (fn.agg.column) used.insert(*fn.agg.column);
      if (fn.agg.where) {
        for (size_t u : fn.agg.where->uses()) used.insert(u);
      }
      const bool is_count = fn.agg.func == Aggregate::Func::kCountStar ||
                            fn.agg.func == Aggregate::Func::kCount ||
                            fn.agg.func == Aggregate::Func::kCountDistinct;
      agg_names.push_back({ac.name, is_count ? ColumnType::kInt64 : ColumnType::kDouble});
      s.aggs.push_back(std::move(fn));
    }
    if (sc.buckets.empty()) return Status::Invalid(at + ".buckets: needs at least one bucket");
    for (size_t b = 0; b < sc.buckets.size(); ++b) {
      const auto& bc = sc.buckets[b];
      line = bc.line;
      s.bucket_names.push_back(bc.name);
      if (b + 1 == sc.buckets.size()) {
        s.bucket_when.push_back(std::nullopt);
        continue;
      }
      auto x = Expr::Compile(bc.when, agg_names);
      if (!x.ok()) {
        return Status::Invalid(at + ".buckets." + bc.name + ".when: " + x.status().message());
      }
      s.bucket_when.push_back(std::move(*x));
    }
  }
  // Slots: the used columns in schema order.
  en->slot_of_.assign(en->schema_.size(), -1);
  for (size_t c : used) {
    en->slot_of_[c] = static_cast<int>(en->slots_.size());
    en->slots_.push_back(c);
  }
  auto slot = [&](size_t c) { return static_cast<size_t>(en->slot_of_[c]); };
  en->time_slot_ = slot(time_col);
  for (size_t pi = 0; pi < cfg.patterns.size(); ++pi) {
    auto& p = im.patterns[pi];
    p.key_slot = slot(key_cols_p[pi]);
    for (const auto& f : cfg.patterns[pi].emit) {
      line = f.line;
      const std::string at = "rules.patterns." + p.name + ".emit." + f.name;
      size_t step = p.steps.size();
      std::vector<std::string> aliases;
      for (size_t s = 0; s < p.steps.size(); ++s) {
        aliases.push_back(p.steps[s].as);
        if (p.steps[s].as == f.alias) step = s;
      }
      if (step == p.steps.size()) {
        return Status::Invalid(at + ": '" + f.alias + "' is not a step of the sequence" +
                               DidYouMean(f.alias, aliases));
      }
      size_t col = 0;
      WEIR_RETURN_IF_ERROR(column(f.column, at, &col));
      if (en->slot_of_[col] < 0) {  // a column only emit uses
        en->slot_of_[col] = static_cast<int>(en->slots_.size());
        en->slots_.push_back(col);
      }
      p.emit.push_back(Impl::EmitField{f.name, step, slot(col), en->schema_[col].type});
    }
  }
  for (size_t si = 0; si < cfg.segments.size(); ++si) {
    auto& s = im.segments[si];
    s.key_slot = slot(key_cols_s[si]);
    for (auto& fn : s.aggs) {
      if (fn.agg.column) fn.slot = slot(*fn.agg.column);
    }
  }
  // The other shards: the same compiled rules (expressions share their immutable trees).
  for (int i = 1; i < shards; ++i) {
    auto sh = std::make_unique<Impl>();
    sh->e = en.get();
    sh->patterns = im.patterns;
    sh->segments = im.segments;
    en->shards_.push_back(std::move(sh));
  }
  for (size_t i = 0; i < en->shards_.size(); ++i) {
    Impl& sh = *en->shards_[i];
    sh.shard = static_cast<uint32_t>(i);
    sh.nshards = static_cast<uint32_t>(shards);
    sh.partials.resize(sh.patterns.size());
    sh.seg_state.resize(sh.segments.size());
    sh.dirty.resize(sh.patterns.size());
    sh.seg_dirty.resize(sh.segments.size());
    sh.seg_gone.resize(sh.segments.size());
    sh.timers.patterns = static_cast<uint32_t>(sh.patterns.size());
    sh.key_text.resize(en->slots_.size());
    sh.key_made.assign(en->slots_.size(), 0);
  }
  en->spool_header_ = "weir-rules-spool 1";
  for (size_t c : en->slots_) {
    en->spool_header_ += " " + en->schema_[c].name + ":" + ColumnTypeName(en->schema_[c].type);
  }
  en->spool_header_ += "\n";
  return en;
}

void Engine::Push(const ColumnBatch& batch) {
  const size_t rows = batch.num_rows();
  const ColumnBuffer& tc = batch.columns[slots_[time_slot_]];
  for (size_t r = 0; r < rows; ++r) {
    if (tc.IsNull(r)) continue;
    Event ev;
    ev.t = tc.Int64At(r);
    ev.cells.reserve(slots_.size());
    for (size_t c : slots_) ev.cells.push_back(CellAt(batch.columns[c], r));
    Arrive(std::move(ev));
  }
  RunShards();
}

void Engine::Arrive(Event ev) {
  if (ev.t < watermark_) {
    ++late_;
    return;
  }
  ev.seq = next_seq_++;
  max_time_ = std::max(max_time_, ev.t);
  if (input_ < 0) {
    watermark_ = std::max(watermark_, max_time_ - out_of_orderness_ms_);
  } else {
    Input& in = inputs_[input_];
    in.max_time = std::max(in.max_time, ev.t);
    if (in.last_ms == kAnnounced) in.last_ms = clock_ms_;  // a spool without its time
    // The smallest over the inputs still sending (a few partitions: a scan is cheap). One
    // known but without an event time yet holds the watermark until it has one or idles.
    int64_t low = in.max_time;
    for (const auto& [id, other] : inputs_) {
      // (kAnnounced: the difference is negative, so it counts as sending.)
      if (clock_ms_ - other.last_ms < idle_timeout_ms_) low = std::min(low, other.max_time);
    }
    if (low != INT64_MIN) watermark_ = std::max(watermark_, low - out_of_orderness_ms_);
  }
  const auto k = std::make_pair(ev.t, ev.seq);
  buffer_.emplace_hint(buffer_.end(), k, std::make_shared<const Event>(std::move(ev)));
}

void Engine::RunShards() {
  const int64_t w = watermark_;
  auto passed = [&](int64_t t) { return t != INT64_MAX && (w == kEndOfTime || t < w); };
  bool due = !buffer_.empty() && passed(buffer_.begin()->first.first);
  for (const auto& sh : shards_) {
    if (!sh->timers.empty() && passed(sh->timers.top_time())) due = true;
  }
  if (!due) return;
  if (shards_.size() == 1) {
    shards_[0]->Run();
  } else {
    OnThreads(shards_.size(), [this](size_t i) { shards_[i]->Run(); });
  }
  // Run stops before an instant of INT64_MAX even at the end of time: such records stay.
  const auto end = buffer_.lower_bound({w == kEndOfTime ? INT64_MAX : w, 0});
  for (auto it = buffer_.begin(); it != end;) {
    it = buffer_.erase(it);
    ++processed_;
  }
}

void Engine::SetInput(int64_t id) {
  input_ = id;
  // Announced: it holds the watermark until its rows come (their spool time replaces this).
  inputs_[id].last_ms = kAnnounced;
}

std::string Engine::SpoolTime(int64_t unix_ms) {
  // A row of zero columns (a real row has at least the event time), then the time.
  std::string out;
  PutU64(out, 0);
  PutI64(out, unix_ms);
  return out;
}

void Engine::EncodeRows(const ColumnBatch& batch, std::string& out) const {
  const size_t rows = batch.num_rows();
  for (size_t r = 0; r < rows; ++r) {
    PutU64(out, slots_.size());
    for (size_t c : slots_) PutCell(out, CellAt(batch.columns[c], r));
  }
}

Status Engine::PushEncoded(std::string_view file) {
  if (file.substr(0, spool_header_.size()) != spool_header_) {
    const size_t nl = file.find('\n');
    return Status::Corruption(
        "a rules spool was written for other rules (" +
        std::string(file.substr(0, std::min<size_t>(nl, 200))) + "; these read " +
        spool_header_.substr(0, spool_header_.size() - 1) +
        "): run `weir run --restart` to derive everything with the current rules");
  }
  Reader r(file.substr(spool_header_.size()));
  while (!r.done()) {
    const uint64_t n = r.U64();
    if (r.ok() && n == 0) {
      const int64_t at = r.I64();
      if (clock_ms_ > 0 && at - clock_ms_ >= idle_timeout_ms_) {
        // No commit of any input for idle_timeout: the stream was quiet or down (a restart).
        // That says nothing of one input against another: no input turns idle by it.
        for (auto& [id, in] : inputs_) {
          if (in.last_ms != kAnnounced) in.last_ms += at - clock_ms_;
        }
      }
      clock_ms_ = std::max(clock_ms_, at);
      if (input_ >= 0) inputs_[input_].last_ms = clock_ms_;
      continue;
    }
    if (!r.ok() || n != slots_.size()) {
      return Status::Corruption("a rules spool does not match this dataset's rules (" +
                                std::to_string(n) + " columns, expected " +
                                std::to_string(slots_.size()) + ")");
    }
    Event ev;
    ev.cells.reserve(n);  // n is checked against the dataset's columns above
    for (uint64_t i = 0; i < n; ++i) ev.cells.push_back(GetCell(r));
    if (!r.ok()) return Status::Corruption("a rules spool is cut short");
    const Cell& tc = ev.cells[time_slot_];
    if (tc.tag != 1) continue;
    ev.t = tc.i;
    Arrive(std::move(ev));
  }
  RunShards();
  return Status::OK();
}

void Engine::AdvanceWatermark(int64_t w) {
  if (w <= watermark_) return;
  watermark_ = w;
  RunShards();
}

std::vector<Derived> Engine::TakeOutput() {
  std::vector<Derived> out = std::exchange(shards_[0]->out, {});
  for (size_t i = 1; i < shards_.size(); ++i) {
    auto& more = shards_[i]->out;
    out.insert(out.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
    more.clear();
  }
  return out;
}

size_t Engine::PendingChanges() const {
  size_t n = 0;
  for (const auto& sh : shards_) {
    for (const auto& d : sh->dirty) n += d.size();
    for (const auto& d : sh->seg_dirty) n += d.size();
  }
  return n;
}

size_t Engine::keys() const {
  size_t n = 0;
  for (const auto& sh : shards_) {
    for (const auto& m : sh->partials) n += m.size();
    for (const auto& m : sh->seg_state) n += m.size();
  }
  return n;
}

void Engine::TakeChanges(std::vector<Change>& out) {
  // In no particular order: StateStore::Prepare sorts a checkpoint by key (RocksDB takes it
  // fastest that way), so the same state still gives the same checkpoint. Sorting here too was
  // a fifth of TakeChanges.
  out.reserve(out.size() + PendingChanges() + 1 + buffer_.size());
  if (shards_.size() == 1) {
    shards_[0]->TakeKeyed(out);
  } else {
    // Each shard encodes its keys on its own thread.
    std::vector<std::vector<Change>> parts(shards_.size());
    OnThreads(shards_.size(), [&](size_t i) { shards_[i]->TakeKeyed(i == 0 ? out : parts[i]); });
    for (auto& part : parts) {
      out.insert(out.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
    }
  }
  uint64_t next_partial = 0;
  for (const auto& sh : shards_) next_partial = std::max(next_partial, sh->next_partial);
  // Counters: written whole.
  std::string m;
  PutI64(m, max_time_);
  PutI64(m, watermark_);
  PutU64(m, next_seq_);
  PutU64(m, late_);
  PutU64(m, processed_);
  PutU64(m, next_partial);
  PutI64(m, clock_ms_);
  PutU64(m, inputs_.size());
  for (const auto& [id, in] : inputs_) {
    PutI64(m, id);
    PutI64(m, in.max_time);
    PutI64(m, in.last_ms);
  }
  out.emplace_back("m", std::move(m));
  // The buffer against what the last checkpoint wrote (both sorted): deletes and puts.
  std::vector<std::pair<int64_t, uint64_t>> now;
  now.reserve(buffer_.size());
  auto old = buffer_persisted_.begin();
  for (const auto& [k, ev] : buffer_) {
    while (old != buffer_persisted_.end() && *old < k) {
      out.emplace_back(Impl::BufferKey(*old), std::nullopt);
      ++old;
    }
    if (old != buffer_persisted_.end() && *old == k) {
      ++old;  // written before, unchanged
    } else {
      std::string v;
      PutEvent(v, *ev);
      out.emplace_back(Impl::BufferKey(k), std::move(v));
    }
    now.push_back(k);
  }
  for (; old != buffer_persisted_.end(); ++old) out.emplace_back(Impl::BufferKey(*old), std::nullopt);
  buffer_persisted_ = std::move(now);
}

Status Engine::Load(std::string_view key, std::string_view value) {
  if (key == "m") {
    Reader r(value);
    max_time_ = r.I64();
    watermark_ = r.I64();
    next_seq_ = r.U64();
    late_ = r.U64();
    processed_ = r.U64();
    const uint64_t next_partial = r.U64();
    for (auto& sh : shards_) sh->next_partial = std::max(sh->next_partial, next_partial);
    if (r.ok() && !r.done()) {  // a stream's inputs (absent in checkpoints of files datasets)
      clock_ms_ = r.I64();
      const uint64_t n = r.U64();
      for (uint64_t i = 0; i < n && r.ok(); ++i) {
        const int64_t id = r.I64();
        Input& in = inputs_[id];
        in.max_time = r.I64();
        in.last_ms = r.I64();
      }
    }
    return r.ok() ? Status::OK() : Status::Corruption("rules state counters are unreadable");
  }
  if (key.size() == 17 && key[0] == 'b') {
    Reader r(value);
    Event ev = GetEvent(r);
    if (!r.ok()) return Status::Corruption("a record of the rules reorder buffer is unreadable");
    const auto k = std::make_pair(ev.t, ev.seq);
    buffer_.emplace(k, std::make_shared<const Event>(std::move(ev)));
    buffer_persisted_.insert(
        std::lower_bound(buffer_persisted_.begin(), buffer_persisted_.end(), k), k);
    return Status::OK();
  }
  const uint32_t n = static_cast<uint32_t>(shards_.size());
  if (key.size() >= 22 && key[0] == 'w' && key[9] == '/') {
    // A chunk of a segment's window: "w<rule>/" <key length, 4 bytes> <key> <number, 8 bytes>.
    const uint32_t rule =
        static_cast<uint32_t>(std::strtoul(std::string(key.substr(1, 8)).c_str(), nullptr, 16));
    uint32_t len = 0;
    for (size_t i = 10; i < 14; ++i) len = (len << 8) | static_cast<uint8_t>(key[i]);
    const Impl& first = *shards_[0];
    if (key.size() != 22 + static_cast<size_t>(len) || rule < first.patterns.size() ||
        rule - first.patterns.size() >= first.segments.size()) {
      return Status::Corruption("unexpected rules state entry '" + std::string(key) + "'");
    }
    uint64_t no = 0;
    for (size_t i = 14 + len; i < key.size(); ++i) no = (no << 8) | static_cast<uint8_t>(key[i]);
    std::string k(key.substr(14, len));
    Impl& sh = *shards_[n == 1 ? 0 : ShardOf(k, n)];
    return sh.DecodeChunk(rule - first.patterns.size(), k, no, value);
  }
  if (key.size() < 10 || key[0] != 'r' || key[9] != '/') {
    return Status::Corruption("unexpected rules state entry '" + std::string(key) + "'");
  }
  const uint32_t rule =
      static_cast<uint32_t>(std::strtoul(std::string(key.substr(1, 8)).c_str(), nullptr, 16));
  const Impl& first = *shards_[0];
  if (rule >= first.patterns.size() + first.segments.size()) {
    return Status::Corruption("rules state names rule " + std::to_string(rule) +
                              ", which this dataset does not have (were rules removed?)");
  }
  // To the shard that holds the key now, whichever number of shards wrote it.
  std::string k(key.substr(10));
  return shards_[n == 1 ? 0 : ShardOf(k, n)]->Decode(rule, k, value);
}

Status Engine::FinishLoad() {
  for (auto& sh : shards_) WEIR_RETURN_IF_ERROR(sh->FinishLoad());
  return Status::OK();
}

Status Engine::Impl::FinishLoad() {
  Impl& im = *this;
  for (uint32_t pi = 0; pi < im.patterns.size(); ++pi) {
    for (const auto& [key, list] : im.partials[pi]) {
      for (const auto& m : list) {
        if (m.matched.empty() || m.matched.size() > im.patterns[pi].steps.size()) {
          return Status::Corruption("rules state of '" + key + "' does not fit pattern " +
                                    im.patterns[pi].name);
        }
        if (!im.patterns[pi].absent_where && m.matched.size() == im.patterns[pi].steps.size()) {
          continue;
        }
        im.timers.insert(Impl::Timer{im.Deadline(im.patterns[pi], m), pi, key, m.id});
      }
    }
  }
  for (size_t si = 0; si < im.segments.size(); ++si) {
    for (auto& node : im.seg_state[si]) {
      if (node.second.timer_at == INT64_MIN) continue;
      im.timers.insert(
          Impl::Timer{node.second.timer_at, im.SegRule(si), node.first, Impl::SegTimerId(&node)});
    }
  }
  for (size_t si = 0; si < im.segments.size(); ++si) {
    for (const auto& [key, k] : im.seg_state[si]) {
      // A window always has its expiry timer: entries without one (a chunk whose key's entry
      // is missing) would stay in the aggregates for ever.
      if (!k.window.empty() && k.timer_at == INT64_MIN) {
        return Status::Corruption("rules state of '" + key + "' holds window entries but no " +
                                  "entry for the key (the state folder is damaged)");
      }
    }
  }
  return Status::OK();
}

}  // namespace weir::rules

namespace weir::rules {

namespace {
Status CheckRules(const RulesConfig& rules, const std::vector<ColumnSchema>& columns, int* line) {
  auto en = Engine::Create(rules, columns, line);
  return en.ok() ? Status::OK() : en.status();
}
}  // namespace

void RegisterConfigCheck() { SetRulesCheck(&CheckRules); }

}  // namespace weir::rules

#include "gen/events.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <thread>

#include "gen/output_file.h"
#include "gen/random.h"

namespace weir::gen {

namespace {

constexpr int64_t kDayMs = 86400000;
constexpr int kMaxFiles = 16384;  // ids embed the file index in 14 bits
constexpr uint64_t kMaxPerFile = 1ull << 36;
constexpr size_t kDuplicateWindow = 64;  // duplicates repeat one of the last N unique lines
constexpr char kBase32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";  // Crockford, as in ULIDs

struct City {
  const char* name;
  double lat;
  double lon;
};

// A few dozen populated places; the order is their (Zipf) popularity rank.
constexpr City kCities[] = {
    {"Paris", 48.8566, 2.3522},          {"London", 51.5074, -0.1278},
    {"Berlin", 52.5200, 13.4050},        {"Madrid", 40.4168, -3.7038},
    {"New York", 40.7128, -74.0060},     {"Amsterdam", 52.3676, 4.9041},
    {"Lyon", 45.7640, 4.8357},           {"Barcelona", 41.3874, 2.1686},
    {"Milan", 45.4642, 9.1900},          {"Brussels", 50.8503, 4.3517},
    {"Lisbon", 38.7223, -9.1393},        {"Vienna", 48.2082, 16.3738},
    {"Warsaw", 52.2297, 21.0122},        {"Stockholm", 59.3293, 18.0686},
    {"Toronto", 43.6532, -79.3832},      {"Chicago", 41.8781, -87.6298},
    {"Los Angeles", 34.0522, -118.2437}, {"Mexico City", 19.4326, -99.1332},
    {"Sao Paulo", -23.5505, -46.6333},   {"Buenos Aires", -34.6037, -58.3816},
    {"Bogota", 4.7110, -74.0721},        {"Lagos", 6.5244, 3.3792},
    {"Cairo", 30.0444, 31.2357},         {"Nairobi", -1.2921, 36.8219},
    {"Johannesburg", -26.2041, 28.0473}, {"Istanbul", 41.0082, 28.9784},
    {"Dubai", 25.2048, 55.2708},         {"Mumbai", 19.0760, 72.8777},
    {"Delhi", 28.7041, 77.1025},         {"Bangkok", 13.7563, 100.5018},
    {"Singapore", 1.3521, 103.8198},     {"Jakarta", -6.2088, 106.8456},
    {"Tokyo", 35.6762, 139.6503},        {"Seoul", 37.5665, 126.9780},
    {"Shanghai", 31.2304, 121.4737},     {"Sydney", -33.8688, 151.2093},
    {"Auckland", -36.8485, 174.7633},    {"Montreal", 45.5017, -73.5673},
    {"Marseille", 43.2965, 5.3698},      {"Rome", 41.9028, 12.4964},
};
constexpr size_t kNumCities = sizeof(kCities) / sizeof(kCities[0]);

constexpr const char* kRealTypes[] = {
    "listing_viewed",    "search_performed",     "listing_favorited",   "message_sent",
    "app_opened",        "page_viewed",          "listing_shared",      "message_read",
    "meeting_proposed",  "meeting_accepted",     "meeting_declined",    "offer_made",
    "offer_accepted",    "offer_rejected",       "listing_created",     "listing_updated",
    "listing_deleted",   "photo_uploaded",       "user_signed_up",      "user_logged_in",
    "user_logged_out",   "profile_updated",      "notification_opened", "filter_applied",
    "category_browsed",  "map_opened",           "review_written",      "payment_started",
    "payment_completed", "payment_failed",       "shipping_selected",   "report_submitted",
    "seller_followed",   "saved_search_created", "push_enabled",        "push_disabled",
    "referral_sent",     "promo_applied",        "cart_abandoned",      "checkout_started",
};
constexpr size_t kNumRealTypes = sizeof(kRealTypes) / sizeof(kRealTypes[0]);

constexpr const char* kDevices[] = {"ios", "android", "web", "mobile_web"};
constexpr const char* kWords[] = {"bike",   "sofa",     "iphone",  "desk",    "lamp",   "table",
                                  "chair",  "stroller", "guitar",  "camera",  "jacket", "shoes",
                                  "laptop", "tv",       "fridge",  "books",   "lego",   "drone",
                                  "watch",  "ps5",      "vintage", "red",     "wooden", "kids",
                                  "used",   "new",      "oak",     "leather", "xl",     "electric"};

constexpr const char* kTextLines[] = {
    "WARN upstream timeout after 3000 ms, retrying request",
    "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
    "GET /api/v1/events?batch=true HTTP/1.1 Host: collector.internal",
    "Traceback (most recent call last): File \"collector.py\", line 42, in flush",
    "event_id,type,created_at,user_id",
    "undefined",
    "ERROR: connection reset by peer while writing batch",
};

// Bijection on 50-bit integers, keyed: distinct inputs give distinct ids.
uint64_t Mix50(uint64_t x, uint64_t key) {
  constexpr uint64_t kMask = (1ull << 50) - 1;
  x = (x ^ key) & kMask;
  x = (x * 0x9e3779b97f4a7c15ull) & kMask;
  x ^= x >> 23;
  x = (x * 0xbf58476d1ce4e5b9ull) & kMask;
  x ^= x >> 27;
  x = (x * 0x94d049bb133111ebull) & kMask;
  x ^= x >> 25;
  return x;
}

// Fills 20 chars: a ULID-like id (10 chars of creation time, 10 chars unique per run).
void MakeId(int64_t created_ms, uint64_t unique50, char* out) {
  uint64_t t = static_cast<uint64_t>(created_ms);
  for (int i = 9; i >= 0; --i) {
    out[i] = kBase32[t & 31];
    t >>= 5;
  }
  for (int i = 19; i >= 10; --i) {
    out[i] = kBase32[unique50 & 31];
    unique50 >>= 5;
  }
}

enum class Variation { kNormal, kNoId, kNoType, kCreatedAtString, kLatitudeString };

struct Event {
  char id[20];
  uint32_t type = 0;
  uint64_t user = 0;
  bool has_location = false;
  double lat = 0;
  double lon = 0;
  int64_t created_at = 0;
  uint64_t listing = 0;
  uint32_t device = 0;
  uint32_t extra = 0;  // per-type detail (query words, price cents, message length, ...)
};

// Splits `total` over files in proportion to `per_file` (exact sum, deterministic).
std::vector<uint64_t> Distribute(uint64_t total, const std::vector<uint64_t>& per_file,
                                 uint64_t sum) {
  std::vector<uint64_t> out(per_file.size(), 0);
  if (sum == 0) return out;
  unsigned __int128 cum = 0;
  uint64_t given = 0;
  for (size_t i = 0; i < per_file.size(); ++i) {
    cum += per_file[i];
    const uint64_t upto = static_cast<uint64_t>(cum * total / sum);
    out[i] = upto - given;
    given = upto;
  }
  return out;
}

uint64_t RoundShare(uint64_t n, double share) {
  return static_cast<uint64_t>(static_cast<double>(n) * share + 0.5);
}

struct FilePlan {
  int index = 0;
  std::string name;
  uint64_t events = 0;
  uint64_t malformed = 0;
  uint64_t duplicates = 0;
  uint64_t late = 0;
  uint64_t blank = 0;
};

// Generates one file. Owns its random stream; reads the shared, immutable tables.
class FileGenerator {
 public:
  FileGenerator(const GenEventsOptions& opt, const FilePlan& plan,
                const std::vector<std::string>& types, const ZipfTable& type_zipf,
                const ZipfTable& user_zipf, const ZipfTable& city_zipf, uint64_t id_key)
      : opt_(opt),
        plan_(plan),
        types_(types),
        type_zipf_(type_zipf),
        user_zipf_(user_zipf),
        city_zipf_(city_zipf),
        id_key_(id_key),
        rng_(opt.seed * 0x100000001b3ull +
             0x51ed270b27ull * static_cast<uint64_t>(plan.index + 1)) {}

  Status Run(const std::string& dir, Codec codec, GenFileReport* report) {
    report->name = plan_.name;
    OutputFile out;
    WEIR_RETURN_IF_ERROR(out.Open(dir + "/" + plan_.name, codec));
    const uint64_t total_lines = plan_.events + plan_.blank;
    const int64_t span = static_cast<int64_t>(opt_.days) * kDayMs;
    const int64_t start = kEventsEndMs - span;
    uint64_t r_unique = plan_.events - plan_.malformed - plan_.duplicates;
    uint64_t r_late = plan_.late;
    r_unique -= r_late;  // r_unique now counts on-time unique lines
    uint64_t r_dup = plan_.duplicates;
    uint64_t r_bad = plan_.malformed;
    uint64_t r_blank = plan_.blank;
    GenCounts& c = report->counts;
    std::string line;
    line.reserve(1024);
    ring_.assign(kDuplicateWindow, {});
    ring_late_.assign(kDuplicateWindow, false);
    size_t ring_size = 0;
    size_t ring_next = 0;
    bool have_times = false;

    for (uint64_t i = 0; i < total_lines; ++i) {
      const int64_t base = start + static_cast<int64_t>((static_cast<double>(i) + 0.5) /
                                                        static_cast<double>(total_lines) *
                                                        static_cast<double>(span));
      // Pick this line's category from the remaining exact counts.
      const uint64_t dup_avail = ring_size > 0 ? r_dup : 0;
      const uint64_t all = r_unique + r_late + dup_avail + r_bad + r_blank;
      uint64_t pick = rng_.Below(all);
      line.clear();
      const uint64_t offset = c.bytes;
      if (pick < r_unique + r_late) {
        const bool late = pick >= r_unique;
        (late ? r_late : r_unique)--;
        Event e = MakeEvent(base, late, span);
        FormatEvent(e, Variation::kNormal, &line);
        ++c.unique;
        ++c.valid;
        if (late) {
          ++c.late;
          ++c.late_unique;
        }
        if (!e.has_location) ++c.without_location;
        if (!have_times || e.created_at < report->min_created_at) {
          report->min_created_at = e.created_at;
        }
        if (!have_times || e.created_at > report->max_created_at) {
          report->max_created_at = e.created_at;
        }
        have_times = true;
        ring_[ring_next] = line;
        ring_late_[ring_next] = late;
        ring_loc_[ring_next] = e.has_location;
        ring_next = (ring_next + 1) % kDuplicateWindow;
        ring_size = std::min(ring_size + 1, kDuplicateWindow);
      } else if ((pick -= r_unique + r_late) < dup_avail) {
        --r_dup;
        const size_t back = rng_.Below(ring_size);
        const size_t slot = (ring_next + kDuplicateWindow - 1 - back) % kDuplicateWindow;
        line = ring_[slot];
        ++c.duplicates;
        ++c.valid;
        if (ring_late_[slot]) ++c.late;
        if (!ring_loc_[slot]) ++c.without_location;
      } else if ((pick -= dup_avail) < r_bad) {
        --r_bad;
        const MalformedKind kind = MakeMalformed(base, span, &line);
        ++c.malformed;
        ++c.malformed_by_kind[static_cast<int>(kind)];
        report->malformed.push_back({i, offset, line.size(), kind});
      } else {
        --r_blank;
        ++c.blank;
        report->blank_lines.push_back(i);
      }
      line.push_back('\n');
      c.bytes += line.size();
      ++c.lines;
      WEIR_RETURN_IF_ERROR(out.Append(line));
    }
    c.events = c.valid + c.malformed;
    WEIR_RETURN_IF_ERROR(out.Close());
    report->file_bytes = out.written_bytes();
    return Status::OK();
  }

 private:
  Event MakeEvent(int64_t base, bool late, int64_t span) {
    Event e;
    e.type = static_cast<uint32_t>(type_zipf_.Sample(rng_));
    e.user = user_zipf_.Sample(rng_);
    const double where = rng_.Uniform();
    if (where < 0.90) {
      const City& city = kCities[city_zipf_.Sample(rng_)];
      e.has_location = true;
      e.lat = std::clamp(city.lat + 0.08 * rng_.Gaussian(), -89.9, 89.9);
      e.lon = city.lon + 0.12 * rng_.Gaussian();
      if (e.lon > 180) e.lon -= 360;
      if (e.lon < -180) e.lon += 360;
    } else if (where < 0.95) {
      e.has_location = true;
      e.lat = rng_.Uniform(-60, 75);
      e.lon = rng_.Uniform(-180, 180);
    }
    int64_t t = base + static_cast<int64_t>(rng_.Uniform(-90000, 90000));
    t = std::clamp<int64_t>(t, kEventsEndMs - span, kEventsEndMs - 1);
    if (late) t -= static_cast<int64_t>(rng_.Uniform(1.0, 5.0) * kDayMs);
    e.created_at = t;
    e.listing = 1000000 + rng_.Below(9000000);
    e.device = static_cast<uint32_t>(rng_.Below(std::size(kDevices)));
    e.extra = static_cast<uint32_t>(rng_.Next());
    MakeId(t, Mix50((static_cast<uint64_t>(plan_.index) << 36) | seq_++, id_key_), e.id);
    return e;
  }

  void FormatEvent(const Event& e, Variation v, std::string* out) const {
    auto it = std::back_inserter(*out);
    out->append(R"({"data":{)");
    if (v != Variation::kNoId) {
      out->append(R"("id":")");
      out->append(e.id, sizeof(e.id));
      out->append(R"(",)");
    }
    if (v != Variation::kNoType) {
      out->append(R"("type":")");
      out->append(types_[e.type]);
      out->append(R"(",)");
    }
    fmt::format_to(it, R"("attributes":{{"user_id":"u{}")", e.user + 1);
    if (v == Variation::kLatitudeString) {
      fmt::format_to(it, R"(,"latitude":"north","longitude":{:.5f})", e.lon);
    } else if (e.has_location) {
      fmt::format_to(it, R"(,"latitude":{:.5f},"longitude":{:.5f})", e.lat, e.lon);
    }
    const std::string& type = types_[e.type];
    const char* device = kDevices[e.device];
    if (type == "search_performed") {
      fmt::format_to(it, R"(,"query":"{} {}","results":{},"page":{})",
                     kWords[e.extra % std::size(kWords)],
                     kWords[(e.extra >> 8) % std::size(kWords)], (e.extra >> 16) % 500,
                     1 + (e.extra >> 28) % 4);
    } else if (type.starts_with("message_") || type.starts_with("meeting_")) {
      fmt::format_to(it, R"(,"conversation_id":"c{}","listing_id":"l{}","length":{})",
                     (e.extra >> 4) % 5000000, e.listing, e.extra % 400);
    } else {
      const uint32_t cents = (e.extra % 50000) * 10 + 990;
      fmt::format_to(it, R"(,"listing_id":"l{}","price":{}.{:02})", e.listing, cents / 100,
                     cents % 100);
    }
    fmt::format_to(it, R"(,"device":"{}"}}}},"meta":{{"created_at":)", device);
    if (v == Variation::kCreatedAtString) {
      out->append(R"("yesterday")");
    } else {
      fmt::format_to(it, "{}", e.created_at);
    }
    fmt::format_to(it, R"(,"source":"{}"}}}})", e.device == 2 || e.device == 3 ? "web" : "app");
  }

  MalformedKind MakeMalformed(int64_t base, int64_t span, std::string* out) {
    const uint64_t r = rng_.Below(100);
    if (r < 30) {
      Event e = MakeEvent(base, false, span);
      FormatEvent(e, Variation::kNormal, out);
      // Any strict prefix of a JSON object is invalid JSON; keep at least a few bytes.
      const size_t keep = 8 + rng_.Below(out->size() - 9);
      out->resize(keep);
      return MalformedKind::kTruncated;
    }
    if (r < 55) {
      if (rng_.Chance(0.5)) {
        const size_t n = 16 + rng_.Below(200);
        // First byte >= 0x80 makes the line invalid UTF-8 and never JSON.
        out->push_back(static_cast<char>(0x80 + rng_.Below(0x80)));
        while (out->size() < n) {
          const char ch = static_cast<char>(rng_.Below(256));
          if (ch == '\n' || ch == '\r') continue;
          out->push_back(ch);
        }
      } else {
        out->append(kTextLines[rng_.Below(std::size(kTextLines))]);
      }
      return MalformedKind::kNotJson;
    }
    if (r < 80) {
      Event e = MakeEvent(base, false, span);
      FormatEvent(e, rng_.Chance(0.5) ? Variation::kCreatedAtString : Variation::kLatitudeString,
                  out);
      return MalformedKind::kWrongType;
    }
    Event e = MakeEvent(base, false, span);
    FormatEvent(e, rng_.Chance(0.5) ? Variation::kNoId : Variation::kNoType, out);
    return MalformedKind::kMissingField;
  }

  const GenEventsOptions& opt_;
  const FilePlan& plan_;
  const std::vector<std::string>& types_;
  const ZipfTable& type_zipf_;
  const ZipfTable& user_zipf_;
  const ZipfTable& city_zipf_;
  const uint64_t id_key_;
  Rng rng_;
  uint64_t seq_ = 0;
  std::vector<std::string> ring_;
  std::vector<bool> ring_late_;
  std::array<bool, kDuplicateWindow> ring_loc_{};
};

Status ValidateOptions(const GenEventsOptions& o) {
  auto share_ok = [](double s) { return s >= 0.0 && s <= 1.0; };
  if (o.out_dir.empty()) return Status::Invalid("gen events: --out is required");
  if (o.files < 1 || o.files > kMaxFiles) {
    return Status::Invalid(
        fmt::format("gen events: files must be in [1, {}], got {}", kMaxFiles, o.files));
  }
  if (!share_ok(o.duplicate_share) || !share_ok(o.malformed_share) || !share_ok(o.late_share) ||
      !share_ok(o.blank_share)) {
    return Status::Invalid(
        "gen events: shares (duplicates, malformed, late, blank) must be in [0, 1]");
  }
  if (o.duplicate_share + o.malformed_share > 1.0) {
    return Status::Invalid("gen events: duplicates + malformed shares exceed 1");
  }
  if (o.days < 1 || o.days > 3650) return Status::Invalid("gen events: days must be in [1, 3650]");
  if (o.event_types < 1 || o.event_types > 100000) {
    return Status::Invalid("gen events: event types must be in [1, 100000]");
  }
  if (o.count / static_cast<uint64_t>(o.files) + 1 >= kMaxPerFile) {
    return Status::Invalid("gen events: too many events per file");
  }
  return ParseCodec(o.compression).status();
}

Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f) return Status::IOError("cannot write " + path, false);
  return Status::OK();
}

nlohmann::ordered_json CountsJson(const GenCounts& c) {
  nlohmann::ordered_json j;
  j["lines"] = c.lines;
  j["events"] = c.events;
  j["valid"] = c.valid;
  j["unique"] = c.unique;
  j["duplicates"] = c.duplicates;
  j["late"] = c.late;
  j["late_unique"] = c.late_unique;
  j["without_location"] = c.without_location;
  j["malformed"] = c.malformed;
  nlohmann::ordered_json kinds;
  for (int k = 0; k < kMalformedKinds; ++k) {
    kinds[MalformedKindName(static_cast<MalformedKind>(k))] = c.malformed_by_kind[k];
  }
  j["malformed_by_kind"] = kinds;
  j["blank"] = c.blank;
  j["bytes"] = c.bytes;
  return j;
}

}  // namespace

const char* MalformedKindName(MalformedKind kind) {
  switch (kind) {
    case MalformedKind::kTruncated:
      return "truncated";
    case MalformedKind::kNotJson:
      return "not_json";
    case MalformedKind::kWrongType:
      return "wrong_type";
    case MalformedKind::kMissingField:
      return "missing_field";
  }
  return "unknown";
}

void GenCounts::Add(const GenCounts& o) {
  lines += o.lines;
  events += o.events;
  valid += o.valid;
  unique += o.unique;
  duplicates += o.duplicates;
  late += o.late;
  late_unique += o.late_unique;
  without_location += o.without_location;
  malformed += o.malformed;
  for (int k = 0; k < kMalformedKinds; ++k) malformed_by_kind[k] += o.malformed_by_kind[k];
  blank += o.blank;
  bytes += o.bytes;
}

std::vector<std::string> EventTypeNames(int n) {
  std::vector<std::string> names;
  names.reserve(static_cast<size_t>(std::max(n, 0)));
  for (int i = 0; i < n; ++i) {
    if (static_cast<size_t>(i) < kNumRealTypes) {
      names.emplace_back(kRealTypes[i]);
    } else {
      names.push_back(fmt::format("feature_{}_clicked", i - static_cast<int>(kNumRealTypes) + 1));
    }
  }
  return names;
}

Result<GenEventsReport> GenerateEvents(const GenEventsOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  WEIR_RETURN_IF_ERROR(ValidateOptions(opt));
  const Codec codec = ParseCodec(opt.compression).value();
  std::error_code ec;
  std::filesystem::create_directories(opt.out_dir, ec);
  if (ec) {
    return Status::IOError("cannot create " + opt.out_dir + ": " + ec.message(), false);
  }

  // Plan exact per-file counts: totals are rounded once, then split in proportion to file sizes.
  const auto files = static_cast<size_t>(opt.files);
  std::vector<uint64_t> events(files);
  for (size_t f = 0; f < files; ++f) events[f] = opt.count / files + (f < opt.count % files);
  const uint64_t bad_total = RoundShare(opt.count, opt.malformed_share);
  const uint64_t dup_total =
      std::min(RoundShare(opt.count, opt.duplicate_share), opt.count - bad_total);
  const std::vector<uint64_t> bad = Distribute(bad_total, events, opt.count);
  const std::vector<uint64_t> dup = Distribute(dup_total, events, opt.count);
  const std::vector<uint64_t> blank =
      Distribute(RoundShare(opt.count, opt.blank_share), events, opt.count);
  std::vector<uint64_t> unique(files);
  uint64_t unique_total = 0;
  for (size_t f = 0; f < files; ++f) {
    unique[f] = events[f] - bad[f] - dup[f];
    unique_total += unique[f];
  }
  const std::vector<uint64_t> late =
      Distribute(RoundShare(unique_total, opt.late_share), unique, unique_total);
  std::vector<FilePlan> plans(files);
  for (size_t f = 0; f < files; ++f) {
    FilePlan& p = plans[f];
    p.index = static_cast<int>(f);
    p.name = fmt::format("events-{:04}.jsonl{}", f, CodecSuffix(codec));
    p.events = events[f];
    p.malformed = bad[f];
    // A file without unique events cannot hold duplicates; give their lines to unique events.
    p.duplicates = unique[f] == 0 ? 0 : dup[f];
    p.late = late[f];
    p.blank = blank[f];
  }

  GenEventsReport report;
  report.options = opt;
  report.event_types = EventTypeNames(opt.event_types);
  const ZipfTable type_zipf(static_cast<uint64_t>(opt.event_types), 1.1);
  const uint64_t users = std::clamp<uint64_t>(opt.count / 8, 100, 2000000);
  const ZipfTable user_zipf(users, 0.9);
  const ZipfTable city_zipf(kNumCities, 0.8);
  uint64_t key_state = opt.seed ^ 0x7765697267656e31ull;
  const uint64_t id_key = SplitMix64(key_state);

  report.files.resize(files);
  std::vector<Status> statuses(files);
  std::atomic<size_t> next{0};
  auto worker = [&]() {
    for (size_t f; (f = next.fetch_add(1)) < files;) {
      FileGenerator gen(opt, plans[f], report.event_types, type_zipf, user_zipf, city_zipf, id_key);
      statuses[f] = gen.Run(opt.out_dir, codec, &report.files[f]);
    }
  };
  unsigned threads = opt.threads > 0 ? static_cast<unsigned>(opt.threads)
                                     : std::max(1u, std::thread::hardware_concurrency());
  threads = std::min<unsigned>(threads, static_cast<unsigned>(files));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  for (const Status& st : statuses) WEIR_RETURN_IF_ERROR(st);

  std::string manifest = "# generated by weir gen\n";
  for (const GenFileReport& f : report.files) {
    report.totals.Add(f.counts);
    manifest += f.name + "\n";
  }
  WEIR_RETURN_IF_ERROR(WriteText(opt.out_dir + "/manifest.txt", manifest));
  WEIR_RETURN_IF_ERROR(
      WriteText(opt.out_dir + "/gen-summary.json", GenEventsReportToJson(report) + "\n"));
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

std::string GenEventsReportToJson(const GenEventsReport& r) {
  using Json = nlohmann::ordered_json;
  const GenEventsOptions& o = r.options;
  Json j;
  j["generator"] = "weir gen events";
  j["format"] = 1;
  Json opts;
  opts["count"] = o.count;
  opts["files"] = o.files;
  opts["seed"] = o.seed;
  opts["duplicate_share"] = o.duplicate_share;
  opts["malformed_share"] = o.malformed_share;
  opts["late_share"] = o.late_share;
  opts["blank_share"] = o.blank_share;
  opts["compression"] = o.compression;
  opts["days"] = o.days;
  opts["event_types"] = o.event_types;
  j["options"] = opts;
  j["end_ms"] = kEventsEndMs;
  j["start_ms"] = kEventsEndMs - static_cast<int64_t>(o.days) * kDayMs;
  j["totals"] = CountsJson(r.totals);
  Json expected;
  expected["lake_rows"] = r.totals.valid;
  expected["error_records"] = r.totals.malformed;
  expected["skipped"] = r.totals.blank;
  expected["read"] = r.totals.lines;
  j["expected"] = expected;
  j["event_types"] = r.event_types;
  Json files = Json::array();
  for (const GenFileReport& f : r.files) {
    Json jf;
    jf["name"] = f.name;
    jf["counts"] = CountsJson(f.counts);
    jf["file_bytes"] = f.file_bytes;
    jf["min_created_at"] = f.min_created_at;
    jf["max_created_at"] = f.max_created_at;
    Json bad = Json::array();
    for (const MalformedLine& m : f.malformed) {
      bad.push_back(Json{{"line", m.line},
                         {"offset", m.offset},
                         {"length", m.length},
                         {"kind", MalformedKindName(m.kind)}});
    }
    jf["malformed"] = bad;
    jf["blank_lines"] = f.blank_lines;
    files.push_back(jf);
  }
  j["files"] = files;
  return j.dump(1);
}

}  // namespace weir::gen

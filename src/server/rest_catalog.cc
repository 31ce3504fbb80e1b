#include "server/rest_catalog.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "io/fs.h"
#include "lake/iceberg.h"

namespace weir::server {
namespace {

using net::HttpRequest;
using net::HttpResponse;
using ojson = nlohmann::ordered_json;

// The endpoints this catalog implements, as /v1/config advertises them (spec: "<verb> <path>").
// Java clients (1.7+) and PyIceberg check this list before calling, so a write is refused on the
// client with a clear message instead of reaching the server.
const char* const kEndpoints[] = {
    "GET /v1/{prefix}/namespaces",
    "GET /v1/{prefix}/namespaces/{namespace}",
    "HEAD /v1/{prefix}/namespaces/{namespace}",
    "GET /v1/{prefix}/namespaces/{namespace}/tables",
    "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}/metrics",
    "GET /v1/{prefix}/namespaces/{namespace}/views",
    "GET /v1/{prefix}/namespaces/{namespace}/views/{view}",
};

// The write side of the spec: each answers 405 with the read-only message.
const std::pair<const char*, const char*> kWriteEndpoints[] = {
    {"POST", "/v1/namespaces"},
    {"DELETE", "/v1/namespaces/{namespace}"},
    {"POST", "/v1/namespaces/{namespace}/properties"},
    {"POST", "/v1/namespaces/{namespace}/tables"},
    {"POST", "/v1/namespaces/{namespace}/register"},
    {"POST", "/v1/namespaces/{namespace}/tables/{table}"},
    {"DELETE", "/v1/namespaces/{namespace}/tables/{table}"},
    {"POST", "/v1/tables/rename"},
    {"POST", "/v1/transactions/commit"},
    {"POST", "/v1/namespaces/{namespace}/views"},
    {"POST", "/v1/namespaces/{namespace}/views/{view}"},
    {"DELETE", "/v1/namespaces/{namespace}/views/{view}"},
    {"POST", "/v1/views/rename"},
};

const char* const kReadOnly =
    "weir's Iceberg catalog is read-only: a weir table changes only through weir's own commits "
    "(weir run, weir redrive), which move the table's pointer together with the task checkpoints";

using Levels = std::vector<std::string>;

// A namespace from the path: levels separated by the unit separator 0x1F (the spec's default;
// weir advertises no other).
Levels NamespaceFromParam(const std::string& s) {
  Levels out;
  size_t start = 0;
  while (true) {
    const size_t sep = s.find('\x1f', start);
    out.push_back(s.substr(start, sep == std::string::npos ? std::string::npos : sep - start));
    if (sep == std::string::npos) return out;
    start = sep + 1;
  }
}

// The JDBC catalog stores a namespace as its levels joined by ".".
Levels NamespaceFromStored(const std::string& s) {
  Levels out;
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    out.push_back(s.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) return out;
    start = dot + 1;
  }
}

std::string Join(const Levels& levels, const char* sep) {
  std::string out;
  for (size_t i = 0; i < levels.size(); ++i) out += (i ? sep : "") + levels[i];
  return out;
}

// For messages: levels as the user writes them (a.b).
std::string Display(const Levels& levels) { return Join(levels, "."); }

bool HasPrefix(const Levels& full, const Levels& prefix) {
  return full.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), full.begin());
}

bool ValidNamespace(const Levels& levels) {
  for (const auto& l : levels) {
    if (l.empty()) return false;
  }
  return !levels.empty();
}

// A stable ETag for one metadata version: the metadata file is immutable once committed, so its
// location identifies the content (FNV-1a, stable across processes unlike std::hash).
std::string ETagFor(const std::string& metadata_location) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : metadata_location) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[24];
  std::snprintf(buf, sizeof(buf), "\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

bool EtagMatches(const std::string& if_none_match, const std::string& etag) {
  if (if_none_match.empty()) return false;
  if (if_none_match.find('*') != std::string::npos) return true;
  return if_none_match.find(etag) != std::string::npos;
}

// Constant-time comparison, so the time of a refusal does not tell how much of a guess was right.

// The local path of a metadata location: weir writes absolute paths; "file:" URIs are accepted
// too. Other schemes (s3://) are not readable by this server yet.
Result<std::string> LocalPath(const std::string& location) {
  if (!location.empty() && location[0] == '/') return location;
  if (location.rfind("file://", 0) == 0 && location.size() > 7 && location[7] == '/') {
    return location.substr(7);
  }
  if (location.rfind("file:/", 0) == 0) return location.substr(5);
  return Status::Invalid("metadata location '" + location +
                         "' is not a local file; weir serve reads table metadata from local disk "
                         "only");
}

std::string StatusType(int status) {
  switch (status) {
    case 400:
      return "BadRequestException";
    case 401:
      return "NotAuthorizedException";
    case 403:
      return "ForbiddenException";
    case 404:
      return "NotFoundException";
    case 405:
      return "UnsupportedOperationException";
    case 406:
      return "UnsupportedOperationException";
    case 413:
      return "BadRequestException";
    case 414:
      return "BadRequestException";
    case 501:
      return "UnsupportedOperationException";
    case 503:
      return "ServiceUnavailableException";
    default:
      return status >= 500 ? "InternalServerError" : "BadRequestException";
  }
}

}  // namespace

HttpResponse RestCatalog::Error(int status, const std::string& type, const std::string& message) {
  ojson body = {{"error", {{"message", message}, {"type", type}, {"code", status}}}};
  return HttpResponse::Json(status, body.dump());
}

void RestCatalog::Configure(net::HttpServerOptions& options) const {
  options.render_error = [](int status, const std::string& message) {
    HttpResponse r = Error(status, StatusType(status), message);
    if (status == 405) r.body = Error(405, StatusType(405), message + "; " + kReadOnly).body;
    return r;
  };
  if (options_.token.empty()) {
    options.filter = nullptr;
    return;
  }
  const std::string token = options_.token;
  options.filter = [token](const HttpRequest& req) -> std::optional<HttpResponse> {
    const std::optional<std::string> given = net::BearerToken(req);
    if (!given) {
      HttpResponse r = Error(401, "NotAuthorizedException",
                             "this catalog requires a bearer token: send 'Authorization: Bearer "
                             "<token>' with the token weir serve was started with (Spark, "
                             "PyIceberg and Trino: the catalog property 'token')");
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"weir\"");
      return r;
    }
    if (!net::SameToken(*given, token)) {
      HttpResponse r = Error(401, "NotAuthorizedException",
                             "the bearer token is not this catalog's token: use the token weir "
                             "serve was started with (--token or WEIR_SERVE_TOKEN)");
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"weir\", error=\"invalid_token\"");
      return r;
    }
    return std::nullopt;
  };
}

void RestCatalog::AddRoutes(net::Router& router) const {
  router.Add("GET", "/v1/config", [this](const HttpRequest& r) { return Config(r); });
  router.Add("GET", "/v1/namespaces", [this](const HttpRequest& r) { return ListNamespaces(r); });
  router.Add("GET", "/v1/namespaces/{namespace}",
             [this](const HttpRequest& r) { return LoadNamespace(r, false); });
  router.Add("HEAD", "/v1/namespaces/{namespace}",
             [this](const HttpRequest& r) { return LoadNamespace(r, true); });
  router.Add("GET", "/v1/namespaces/{namespace}/tables",
             [this](const HttpRequest& r) { return ListTables(r); });
  router.Add("GET", "/v1/namespaces/{namespace}/tables/{table}",
             [this](const HttpRequest& r) { return LoadTable(r, false); });
  router.Add("HEAD", "/v1/namespaces/{namespace}/tables/{table}",
             [this](const HttpRequest& r) { return LoadTable(r, true); });
  // Engines send scan reports after reading; weir keeps none, and a report is not a change.
  router.Add("POST", "/v1/namespaces/{namespace}/tables/{table}/metrics",
             [](const HttpRequest&) { return HttpResponse::Empty(204); });
  // weir has no views: an empty list and "no such view", so engines listing views work.
  router.Add("GET", "/v1/namespaces/{namespace}/views", [this](const HttpRequest& r) {
    HttpResponse ns = LoadNamespace(r, true);
    if (ns.status != 204) return LoadNamespace(r, false);
    return HttpResponse::Json(200, R"({"identifiers":[]})");
  });
  router.Add("GET", "/v1/namespaces/{namespace}/views/{view}", [](const HttpRequest& r) {
    return Error(404, "NoSuchViewException",
                 "view " + Display(NamespaceFromParam(r.Param("namespace"))) + "." +
                     r.Param("view") + " does not exist: weir's catalog has tables only");
  });
  for (const auto& [method, pattern] : kWriteEndpoints) {
    router.Add(method, pattern, [method = std::string(method)](const HttpRequest& r) {
      return Error(405, "UnsupportedOperationException",
                   method + " " + r.path + " is refused: " + kReadOnly);
    });
  }
  router.Add("POST", "/v1/oauth/tokens", [](const HttpRequest&) {
    // The OAuth2 error format (RFC 6749 5.2), which is what clients parse on this endpoint.
    ojson body = {{"error", "unsupported_grant_type"},
                  {"error_description",
                   "weir serve issues no tokens: configure the client with the static token "
                   "weir serve was started with (catalog property 'token'), not 'credential'"}};
    return HttpResponse::Json(400, body.dump());
  });
}

HttpResponse RestCatalog::Config(const HttpRequest&) const {
  ojson endpoints = ojson::array();
  for (const char* e : kEndpoints) endpoints.push_back(e);
  ojson body = {
      {"defaults", ojson::object()}, {"overrides", ojson::object()}, {"endpoints", endpoints}};
  return HttpResponse::Json(200, body.dump());
}

HttpResponse RestCatalog::ListNamespaces(const HttpRequest& req) const {
  // "For backward compatibility, empty string is treated as absent."
  const std::string parent_param = req.Query("parent");
  Levels parent;
  if (!parent_param.empty()) {
    parent = NamespaceFromParam(parent_param);
    if (!ValidNamespace(parent)) {
      return Error(400, "BadRequestException",
                   "parent namespace '" + parent_param + "' has an empty level");
    }
  }
  auto tables = store_.IcebergTables();
  if (!tables.ok()) return Error(500, "InternalServerError", tables.status().message());
  std::set<Levels> children;
  bool parent_exists = parent.empty();
  for (const auto& t : *tables) {
    const Levels ns = NamespaceFromStored(t.table_namespace);
    if (!HasPrefix(ns, parent)) continue;
    parent_exists = true;
    if (ns.size() > parent.size())
      children.insert(Levels(ns.begin(), ns.begin() + parent.size() + 1));
  }
  if (!parent_exists) {
    return Error(404, "NoSuchNamespaceException",
                 "namespace " + Display(parent) + " does not exist in this catalog");
  }
  ojson list = ojson::array();
  for (const auto& c : children) list.push_back(c);
  return HttpResponse::Json(200, ojson{{"namespaces", list}}.dump());
}

HttpResponse RestCatalog::LoadNamespace(const HttpRequest& req, bool head) const {
  const Levels ns = NamespaceFromParam(req.Param("namespace"));
  if (!ValidNamespace(ns)) {
    return Error(400, "BadRequestException",
                 "namespace '" + req.Param("namespace") + "' has an empty level");
  }
  auto tables = store_.IcebergTables();
  if (!tables.ok()) return Error(500, "InternalServerError", tables.status().message());
  bool exists = false;
  for (const auto& t : *tables)
    exists = exists || HasPrefix(NamespaceFromStored(t.table_namespace), ns);
  if (!exists) {
    return Error(404, "NoSuchNamespaceException",
                 "namespace " + Display(ns) + " does not exist in this catalog");
  }
  if (head) return HttpResponse::Empty(204);
  // weir keeps no namespace properties: an empty object ("supported, none set") rather than
  // null, which some clients do not accept.
  return HttpResponse::Json(200, ojson{{"namespace", ns}, {"properties", ojson::object()}}.dump());
}

HttpResponse RestCatalog::ListTables(const HttpRequest& req) const {
  const Levels ns = NamespaceFromParam(req.Param("namespace"));
  if (!ValidNamespace(ns)) {
    return Error(400, "BadRequestException",
                 "namespace '" + req.Param("namespace") + "' has an empty level");
  }
  auto tables = store_.IcebergTables();
  if (!tables.ok()) return Error(500, "InternalServerError", tables.status().message());
  bool exists = false;
  ojson ids = ojson::array();
  for (const auto& t : *tables) {
    const Levels stored = NamespaceFromStored(t.table_namespace);
    exists = exists || HasPrefix(stored, ns);
    // A table whose first commit is still being published has no version for readers yet.
    if (stored == ns && !t.published_location.empty()) {
      ids.push_back({{"namespace", ns}, {"name", t.table_name}});
    }
  }
  if (!exists) {
    return Error(404, "NoSuchNamespaceException",
                 "namespace " + Display(ns) + " does not exist in this catalog");
  }
  // No pagination: every identifier in one answer, and no next-page-token (spec: servers that
  // do not paginate ignore pageToken and omit the field).
  return HttpResponse::Json(200, ojson{{"identifiers", ids}}.dump());
}

HttpResponse RestCatalog::LoadTable(const HttpRequest& req, bool head) const {
  const Levels ns = NamespaceFromParam(req.Param("namespace"));
  const std::string name = req.Param("table");
  const std::string display = Display(ns) + "." + name;
  if (!ValidNamespace(ns)) {
    return Error(400, "BadRequestException",
                 "namespace '" + req.Param("namespace") + "' has an empty level");
  }
  auto row = store_.IcebergTable(Join(ns, "."), name);
  if (!row.ok()) return Error(500, "InternalServerError", row.status().message());
  // Readers get the published pointer: every data file of that version is in place.
  if (!row->has_value() || (*row)->published_location.empty()) {
    return Error(404, "NoSuchTableException",
                 "table " + display +
                     " does not exist in this catalog (a weir dataset's table appears after "
                     "its first commit; GET /v1/namespaces/" +
                     Join(ns, "\x1f") + "/tables lists the tables)");
  }
  if (head) return HttpResponse::Empty(204);
  const std::string location = (*row)->published_location;
  const std::string etag = ETagFor(location);
  if (EtagMatches(req.Header("if-none-match"), etag)) {
    HttpResponse r = HttpResponse::Empty(304);
    r.headers.emplace_back("ETag", etag);
    return r;
  }
  auto path = LocalPath(location);
  if (!path.ok())
    return Error(500, "InternalServerError", "table " + display + ": " + path.status().message());
  auto text = fs::ReadFile(*path);
  if (!text.ok()) {
    return Error(500, "InternalServerError",
                 "table " + display + ": cannot read its current metadata file " + location + ": " +
                     text.status().message() +
                     " (the catalog points at it; `weir lake check` checks the lake's files)");
  }
  // Checked with weir's Iceberg library, so a damaged or foreign file is refused here with the
  // key that is wrong rather than handed to an engine.
  auto parsed = iceberg::ParseTableMetadata(*text, location);
  if (!parsed.ok()) {
    return Error(500, "InternalServerError",
                 "table " + display +
                     ": its current metadata file is not valid Iceberg table "
                     "metadata: " +
                     parsed.status().message());
  }
  ojson metadata = ojson::parse(*text, nullptr, /*allow_exceptions=*/false);
  ojson body = {{"metadata-location", location},
                {"metadata", std::move(metadata)},
                {"config", ojson::object()}};
  HttpResponse r = HttpResponse::Json(200, body.dump());
  r.headers.emplace_back("ETag", etag);
  return r;
}

}  // namespace weir::server

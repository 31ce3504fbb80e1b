#include "core/store_url.h"

#include <cctype>

namespace weir {

namespace {
std::string_view SchemeRest(std::string_view s) {
  for (std::string_view scheme : {"postgresql://", "postgres://"}) {
    if (s.substr(0, scheme.size()) == scheme) return s.substr(scheme.size());
  }
  return {};
}
}  // namespace

bool IsPostgresStoreUrl(std::string_view s) {
  return s.substr(0, 13) == "postgresql://" || s.substr(0, 11) == "postgres://";
}

std::optional<std::string> PostgresUrlProblem(std::string_view url) {
  if (!IsPostgresStoreUrl(url)) return "it does not start with postgresql://";
  std::string_view rest = SchemeRest(url);
  const size_t q = rest.find('?');
  std::string_view options = q == std::string_view::npos ? std::string_view() : rest.substr(q + 1);
  if (q != std::string_view::npos) rest = rest.substr(0, q);
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view db =
      slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  const size_t at = authority.rfind('@');
  std::string_view hostport = at == std::string_view::npos ? authority : authority.substr(at + 1);
  // A host may also come as ?host=/run/postgresql (a Unix socket folder).
  const bool host_option = options.find("host=") != std::string_view::npos;
  if (hostport.empty() && !host_option) return "it names no host (postgresql://user@HOST:port/db)";
  std::string_view port;
  if (!hostport.empty() && hostport.front() == '[') {  // [::1]:5432
    const size_t close = hostport.find(']');
    if (close == std::string_view::npos) return "its IPv6 host has no closing ']'";
    if (close + 1 < hostport.size()) {
      if (hostport[close + 1] != ':') return "unexpected text after the IPv6 host";
      port = hostport.substr(close + 2);
    }
  } else if (const size_t colon = hostport.find(':'); colon != std::string_view::npos) {
    port = hostport.substr(colon + 1);
    if (port.empty()) return "its port is empty";
  }
  if (!port.empty()) {
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) {
        return "its port '" + std::string(port) + "' is not a number";
      }
    }
    if (port.size() > 5 || std::stoi(std::string(port)) == 0 ||
        std::stoi(std::string(port)) > 65535) {
      return "its port " + std::string(port) + " is out of range (1-65535)";
    }
  }
  if (db.empty() && options.find("dbname=") == std::string_view::npos) {
    return "it names no database (postgresql://user@host:port/DATABASE)";
  }
  if (db.find('/') != std::string_view::npos) return "its database name contains '/'";
  return std::nullopt;
}

std::string RedactStoreUrl(std::string_view url) {
  std::string out(url);
  if (!IsPostgresStoreUrl(url)) return out;
  const size_t start = out.find("://") + 3;
  const size_t end = out.find_first_of("/?", start);
  const size_t at = out.rfind('@', end == std::string::npos ? std::string::npos : end);
  if (at != std::string::npos && at >= start) {
    const size_t colon = out.find(':', start);
    if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
  }
  // password=... among the options
  for (size_t p = out.find("password=", start); p != std::string::npos;
       p = out.find("password=", p + 1)) {
    if (p > 0 && out[p - 1] != '?' && out[p - 1] != '&') continue;
    const size_t v = p + 9;
    const size_t e = out.find('&', v);
    out.replace(v, (e == std::string::npos ? out.size() : e) - v, "***");
  }
  return out;
}

}  // namespace weir

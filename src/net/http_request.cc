// http_request.cc: the request side of net/http_server.h: HttpRequest/HttpResponse helpers,
// percent decoding and the request parser (ParseRequestHead, FindHeadEnd). Pure functions.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_server.h"

namespace weir::net {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits "/a/b/" into {"a", "b", ""}: a trailing slash is a segment of its own, so "/x/" does
// not match the route "/x" (clients that add one get a clear 404 rather than a guess).
bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// True when the comma-separated list `value` has `token` (case-insensitive).
bool ListHas(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    std::string_view item = Trim(value.substr(0, comma));
    if (Lower(item) == token) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// Query parameters: "a=1&b=x%20y" with "+" as a space; a malformed escape is an error.
Status ParseQuery(std::string_view q, std::map<std::string, std::string>* out) {
  while (!q.empty()) {
    const size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    if (!pair.empty()) {
      const size_t eq = pair.find('=');
      std::string key(pair.substr(0, eq));
      std::string value(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
      for (char& c : key) c = c == '+' ? ' ' : c;
      for (char& c : value) c = c == '+' ? ' ' : c;
      auto k = PercentDecode(key);
      if (!k.ok()) return k.status();
      auto v = PercentDecode(value);
      if (!v.ok()) return v.status();
      out->emplace(std::move(k).value(), std::move(v).value());
    }
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return Status::OK();
}

}  // namespace

std::string HttpRequest::Header(std::string_view name) const {
  auto it = headers.find(Lower(name));
  return it == headers.end() ? std::string() : it->second;
}

std::string HttpRequest::Param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

std::string HttpRequest::Query(const std::string& name) const {
  auto it = query.find(name);
  return it == query.end() ? std::string() : it->second;
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::Empty(int status) {
  HttpResponse r;
  r.status = status;
  r.content_type.clear();
  return r;
}

Result<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    const int hi = i + 2 < s.size() ? HexValue(s[i + 1]) : -1;
    const int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return Status::Invalid("invalid percent escape at byte " + std::to_string(i) + " of '" +
                             std::string(s) + "': '%' must be followed by two hex digits");
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

// ---- the request parser ----------------------------------------------------------------------

size_t FindHeadEnd(std::string_view buf) {
  // The head ends at the first empty line: "\n\r\n" or "\n\n" (bare LF line ends).
  for (size_t i = 0; i < buf.size(); ++i) {
    if (buf[i] != '\n') continue;
    if (i + 1 < buf.size() && buf[i + 1] == '\n') return i + 2;
    if (i + 2 < buf.size() && buf[i + 1] == '\r' && buf[i + 2] == '\n') return i + 3;
  }
  return std::string_view::npos;
}

RequestHead ParseRequestHead(std::string_view head, HttpRequest* out, const HttpLimits& limits) {
  RequestHead h;
  auto fail = [&h](int status, std::string why) {
    h.error_status = status;
    h.error = std::move(why);
    h.keep_alive = false;
    return h;
  };
  if (head.size() > limits.max_header_bytes) {
    return fail(431, "request head over " + std::to_string(limits.max_header_bytes) + " bytes");
  }
  // Split into lines; CRLF or a bare LF ends a line, a CR anywhere else is refused (a framing
  // ambiguity other parsers may read differently).
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < head.size()) {
    size_t nl = head.find('\n', start);
    if (nl == std::string_view::npos) nl = head.size();
    std::string_view line = head.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find('\r') != std::string_view::npos) return fail(400, "bare CR in the request head");
    lines.push_back(line);
    start = nl + 1;
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.empty()) return fail(400, "empty request");

  // request-line = method SP request-target SP HTTP-version
  const std::string_view line = lines[0];
  if (line.size() > limits.max_request_line) {
    return fail(414, "request line over " + std::to_string(limits.max_request_line) + " bytes");
  }
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return fail(400, "malformed request line (expected 'METHOD TARGET HTTP/1.1')");
  }
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method)) return fail(400, "malformed method");
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return fail(400, "malformed HTTP version '" + std::string(version.substr(0, 16)) + "'");
  }
  if (version[5] != '1') return fail(505, "only HTTP/1.0 and HTTP/1.1 are served");
  const bool http10 = version == "HTTP/1.0";
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return fail(400, "control character in the request target");
    }
  }
  out->method = std::string(method);
  out->target = std::string(target);
  // absolute-form (RFC 9112 3.2.2) is accepted; the authority is not used.
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.substr(0, scheme.size()) == scheme) {
      const size_t slash = target.find('/', scheme.size());
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
  }
  if (target.empty() || (target[0] != '/' && !(target == "*" && method == "OPTIONS"))) {
    return fail(400, "request target must be a path starting with '/'");
  }
  target = target.substr(0, target.find('#'));
  const size_t q = target.find('?');
  out->path = std::string(target.substr(0, q));
  out->query.clear();
  if (q != std::string_view::npos) {
    Status st = ParseQuery(target.substr(q + 1), &out->query);
    if (!st.ok()) return fail(400, "malformed query: " + st.message());
  }

  // field-line = field-name ":" OWS field-value OWS
  out->headers.clear();
  if (lines.size() - 1 > limits.max_header_fields) {
    return fail(431, "more than " + std::to_string(limits.max_header_fields) + " header fields");
  }
  bool has_length = false, has_transfer_encoding = false;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string_view field = lines[i];
    if (field.empty()) return fail(400, "empty line inside the request head");
    if (field[0] == ' ' || field[0] == '\t') {
      return fail(400, "obsolete line folding in header fields");
    }
    const size_t colon = field.find(':');
    if (colon == std::string_view::npos || !IsToken(field.substr(0, colon))) {
      return fail(400, "malformed header field '" + std::string(field.substr(0, 64)) + "'");
    }
    const std::string name = Lower(field.substr(0, colon));
    const std::string_view value = Trim(field.substr(colon + 1));
    for (char c : value) {
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
        return fail(400, "control character in header field '" + name + "'");
      }
    }
    if (name == "content-length") {
      if (value.empty() || value.size() > 18 ||
          value.find_first_not_of("0123456789") != std::string_view::npos) {
        return fail(400, "malformed Content-Length '" + std::string(value.substr(0, 32)) + "'");
      }
      const size_t n = std::stoull(std::string(value));
      if (has_length && n != h.content_length)
        return fail(400, "conflicting Content-Length fields");
      has_length = true;
      h.content_length = n;
    } else if (name == "transfer-encoding") {
      has_transfer_encoding = true;
    } else if (name == "connection") {
      if (ListHas(value, "close")) h.keep_alive = false;
      if (http10 && ListHas(value, "keep-alive")) out->headers["connection"] = "keep-alive";
    } else if (name == "expect") {
      if (Lower(value) != "100-continue") {
        return fail(417, "unsupported expectation '" + std::string(value.substr(0, 64)) + "'");
      }
      h.expect_continue = true;
    }
    // The first value of a repeated field is the one handlers see.
    out->headers.emplace(name, std::string(value));
  }
  if (has_transfer_encoding) {
    if (has_length) return fail(400, "both Transfer-Encoding and Content-Length");
    return fail(501,
                "Transfer-Encoding (chunked request bodies) is not supported: send the body "
                "with Content-Length");
  }
  if (http10 && !ListHas(out->Header("connection"), "keep-alive")) h.keep_alive = false;
  return h;
}

bool ParseListen(const std::string& s, std::string* host, int* port) {
  size_t colon;
  if (!s.empty() && s[0] == '[') {
    const size_t close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':') return false;
    *host = s.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = s.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    *host = s.substr(0, colon);
  }
  const std::string p = s.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  *port = std::atoi(p.c_str());
  return *port <= 65535 && !host->empty();
}

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::optional<std::string> BearerToken(const HttpRequest& req) {
  const std::string auth = req.Header("authorization");
  std::string scheme = auth.substr(0, std::min<size_t>(auth.size(), 7));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "bearer ") return std::nullopt;
  std::string given = auth.substr(7);
  while (!given.empty() && given.front() == ' ') given.erase(0, 1);
  while (!given.empty() && given.back() == ' ') given.pop_back();
  return given;
}

bool SameToken(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? a[i] : 0;
    const unsigned char y = i < b.size() ? b[i] : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

}  // namespace weir::net

// Tests of weir's HTTP layer: percent decoding and routing (pure), request handling without a
// network (HttpServer::Handle), and the transport over real loopback sockets with a raw-socket
// client, so keep-alive, limits, pipelining after refused requests, logging and shutdown are
// checked byte for byte.
#include "net/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace weir::net {
namespace {

// ---- PercentDecode ----------------------------------------------------------------------------

TEST(PercentDecode, DecodesEscapesAndLeavesPlusAlone) {
  EXPECT_EQ(*PercentDecode("%41b"), "Ab");
  EXPECT_EQ(*PercentDecode("a%1Fb"),
            "a\x1f"
            "b");
  EXPECT_EQ(*PercentDecode("a%2fb"), "a/b");
  EXPECT_EQ(*PercentDecode("a+b"), "a+b");
  EXPECT_EQ(*PercentDecode(""), "");
}

TEST(PercentDecode, RefusesTruncatedOrNonHexEscapes) {
  for (const char* bad : {"%", "a%4", "%zz", "%4g", "x%"}) {
    auto r = PercentDecode(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
  EXPECT_NE(PercentDecode("a%4").status().message().find("byte 1"), std::string::npos);
}

// ---- ParseRequestHead / FindHeadEnd ---------------------------------------------------------

RequestHead Parse(const std::string& head, HttpRequest* req, const HttpLimits& limits = {}) {
  return ParseRequestHead(head, req, limits);
}

TEST(ParseRequestHead, ReadsTheRequestLineQueryAndHeaders) {
  HttpRequest req;
  RequestHead h = Parse(
      "GET /v1/namespaces?parent=a%1Fb&x=1+2&flag HTTP/1.1\r\nHost: h\r\n"
      "X-Mixed-Case:  v a l \t\r\nx-mixed-case: second\r\n\r\n",
      &req);
  ASSERT_EQ(h.error_status, 0) << h.error;
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.target, "/v1/namespaces?parent=a%1Fb&x=1+2&flag");
  EXPECT_EQ(req.path, "/v1/namespaces");
  EXPECT_EQ(req.Query("parent"),
            "a\x1f"
            "b");
  EXPECT_EQ(req.Query("x"), "1 2");
  EXPECT_EQ(req.query.count("flag"), 1u);
  EXPECT_EQ(req.Header("x-MIXED-case"), "v a l");  // trimmed; the first of repeated fields
  EXPECT_TRUE(h.keep_alive);
  EXPECT_EQ(h.content_length, 0u);
}

TEST(ParseRequestHead, KeepAliveFollowsVersionAndConnection) {
  HttpRequest req;
  EXPECT_FALSE(Parse("GET / HTTP/1.1\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", &req).keep_alive);
  EXPECT_FALSE(Parse("GET / HTTP/1.0\r\n\r\n", &req).keep_alive);
  EXPECT_TRUE(Parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &req).keep_alive);
}

TEST(ParseRequestHead, AcceptsBareLfLineEndsAndAbsoluteForm) {
  HttpRequest req;
  RequestHead h = Parse("GET http://127.0.0.1:8181/v1/config?x=1 HTTP/1.1\nHost: h\n\n", &req);
  ASSERT_EQ(h.error_status, 0) << h.error;
  EXPECT_EQ(req.path, "/v1/config");
  EXPECT_EQ(req.Query("x"), "1");
  EXPECT_EQ(req.Header("host"), "h");
}

TEST(ParseRequestHead, FramesBodiesByContentLengthOnly) {
  HttpRequest req;
  RequestHead ok =
      Parse("POST /x HTTP/1.1\r\nContent-Length: 12\r\ncontent-length: 12\r\n\r\n", &req);
  EXPECT_EQ(ok.error_status, 0);
  EXPECT_EQ(ok.content_length, 12u);
  for (const char* bad :
       {"Content-Length: 12\r\nContent-Length: 13", "Content-Length: +5", "Content-Length: 1 2",
        "Content-Length: ", "Content-Length: 0x10", "Content-Length: 99999999999999999999",
        "Transfer-Encoding: chunked\r\nContent-Length: 5"}) {
    RequestHead h = Parse(std::string("POST /x HTTP/1.1\r\n") + bad + "\r\n\r\n", &req);
    EXPECT_EQ(h.error_status, 400) << bad;
    EXPECT_FALSE(h.keep_alive) << bad;
  }
  RequestHead chunked = Parse("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &req);
  EXPECT_EQ(chunked.error_status, 501);
  EXPECT_NE(chunked.error.find("send the body with Content-Length"), std::string::npos);
}

TEST(ParseRequestHead, RefusesAmbiguousOrMalformedHeads) {
  HttpRequest req;
  const std::pair<const char*, int> cases[] = {
      {"GET /x HTTP/1.1\r\nHost : h\r\n\r\n", 400},          // space before the colon
      {"GET /x HTTP/1.1\r\nA: 1\r\n  folded\r\n\r\n", 400},  // obsolete line folding
      {"GET /x HTTP/1.1\r\nA: 1\rB: 2\r\n\r\n", 400},        // bare CR
      {"GET /x HTTP/1.1\r\nA: \x01\r\n\r\n", 400},           // control character
      {"GET /x HTTP/1.1\r\nNoColon\r\n\r\n", 400},
      {"GET  /x HTTP/1.1\r\n\r\n", 400},  // two spaces
      {"GET /x\r\n\r\n", 400},            // HTTP/0.9
      {"GET x HTTP/1.1\r\n\r\n", 400},    // not a path
      {"G(T /x HTTP/1.1\r\n\r\n", 400},   // not a token
      {"GET /x HTTP/1.1x\r\n\r\n", 400},
      {"GET /x HTTP/2.0\r\n\r\n", 505},
      {"GET /x?a=%zz HTTP/1.1\r\n\r\n", 400},
      {"PUT /x HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", 417},
  };
  for (const auto& [head, status] : cases) {
    EXPECT_EQ(Parse(head, &req).error_status, status) << head;
  }
  HttpRequest opts;
  EXPECT_EQ(Parse("OPTIONS * HTTP/1.1\r\n\r\n", &opts).error_status, 0);
  EXPECT_TRUE(Parse("PUT /x HTTP/1.1\r\nExpect: 100-Continue\r\n\r\n", &req).expect_continue);
}

TEST(ParseRequestHead, EnforcesItsLimits) {
  HttpRequest req;
  HttpLimits limits;
  limits.max_request_line = 32;
  limits.max_header_fields = 2;
  limits.max_header_bytes = 200;
  EXPECT_EQ(Parse("GET /" + std::string(40, 'a') + " HTTP/1.1\r\n\r\n", &req, limits).error_status,
            414);
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", &req, limits).error_status,
            431);
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nA: " + std::string(200, 'x') + "\r\n\r\n", &req, limits)
                .error_status,
            431);
}

TEST(FindHeadEnd, FindsTheBlankLineWithCrlfOrLf) {
  EXPECT_EQ(FindHeadEnd("GET / HTTP/1.1\r\nA: 1\r\n\r\nBODY"), 24u);
  EXPECT_EQ(FindHeadEnd("GET / HTTP/1.1\nA: 1\n\nBODY"), 21u);
  EXPECT_EQ(FindHeadEnd("GET / HTTP/1.1\r\nA: 1\r\n"), std::string::npos);
  EXPECT_EQ(FindHeadEnd("GET / HTTP/1.1\r\nA: 1\r\n\r"), std::string::npos);
}

// ---- Router -----------------------------------------------------------------------------------

HttpHandler Reply(std::string text) {
  return [text](const HttpRequest& r) {
    std::string params;
    for (const auto& [k, v] : r.params) params += k + "=" + v + ";";
    return HttpResponse::Json(200, text + "|" + params);
  };
}

Router TestRouter() {
  Router r;
  r.Add("GET", "/v1/config", Reply("config"));
  r.Add("GET", "/v1/namespaces/{namespace}", Reply("ns"));
  r.Add("HEAD", "/v1/namespaces/{namespace}", Reply("ns-head"));
  r.Add("GET", "/v1/namespaces/{namespace}/tables/{table}", Reply("table"));
  r.Add("DELETE", "/v1/namespaces/{namespace}/tables/{table}", Reply("drop"));
  return r;
}

std::string Call(const Router& router, const std::string& method, const std::string& path) {
  Router::Match m = router.Find(method, path);
  if (!m.handler) return "none";
  HttpRequest req;
  req.params = m.params;
  return (*m.handler)(req).body;
}

TEST(Router, MatchesLiteralsAndDecodesEachCaptureOnItsOwn) {
  Router r = TestRouter();
  EXPECT_EQ(Call(r, "GET", "/v1/config"), "config|");
  EXPECT_EQ(Call(r, "GET", "/v1/namespaces/default/tables/events"),
            "table|namespace=default;table=events;");
  // %2F is a slash inside one segment, not a path separator; %1F is the namespace separator.
  EXPECT_EQ(Call(r, "GET", "/v1/namespaces/a%2Fb/tables/t%20x"), "table|namespace=a/b;table=t x;");
  EXPECT_EQ(Call(r, "GET", "/v1/namespaces/a%1Fb"),
            "ns|namespace=a\x1f"
            "b;");
}

TEST(Router, UnknownPathsTrailingSlashesAndEmptyCapturesDoNotMatch) {
  Router r = TestRouter();
  for (const char* path : {"/v1/configs", "/v1/config/", "/v1/namespaces//tables/t", "/", "",
                           "v1/config", "/v1/namespaces/a/tables"}) {
    Router::Match m = r.Find("GET", path);
    EXPECT_EQ(m.handler, nullptr) << path;
    EXPECT_TRUE(m.allowed.empty()) << path;
  }
}

TEST(Router, OtherMethodsOfAKnownPathAreListedForA405) {
  Router r = TestRouter();
  Router::Match m = r.Find("POST", "/v1/namespaces/a/tables/t");
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_EQ(m.allowed, (std::vector<std::string>{"GET", "DELETE", "HEAD"}));
  Router::Match c = r.Find("PUT", "/v1/config");
  EXPECT_EQ(c.allowed, (std::vector<std::string>{"GET", "HEAD"}));
}

TEST(Router, HeadUsesItsOwnRouteElseTheGetRoute) {
  Router r = TestRouter();
  EXPECT_EQ(Call(r, "HEAD", "/v1/namespaces/x"), "ns-head|namespace=x;");
  EXPECT_EQ(Call(r, "HEAD", "/v1/namespaces/x/tables/y"), "table|namespace=x;table=y;");
}

TEST(Router, AnInvalidEscapeInACaptureIsReported) {
  Router r = TestRouter();
  Router::Match m = r.Find("GET", "/v1/namespaces/a%zz");
  EXPECT_TRUE(m.bad_escape);
  EXPECT_EQ(m.handler, nullptr);
}

TEST(Router, AddingARouteAgainReplacesItsHandler) {
  Router r = TestRouter();
  r.Add("GET", "/v1/config", Reply("config2"));
  EXPECT_EQ(Call(r, "GET", "/v1/config"), "config2|");
}

// ---- HttpServer::Handle (no network) -------------------------------------------------------

HttpServerOptions JsonErrors() {
  HttpServerOptions o;
  o.render_error = [](int status, const std::string& message) {
    return HttpResponse::Json(
        status, "{\"status\":" + std::to_string(status) + ",\"message\":\"" + message + "\"}");
  };
  o.log = [](const std::string&) {};
  return o;
}

TEST(HttpServerHandle, RendersNotFoundMethodNotAllowedAndBadEscapes) {
  HttpServer server(TestRouter(), JsonErrors());
  HttpRequest req;
  req.method = "GET";
  req.path = "/nope";
  HttpResponse r = server.Handle(req);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"status":404,"message":"no such resource: /nope"})");

  req.method = "PATCH";
  req.path = "/v1/config";
  r = server.Handle(req);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(
      r.body,
      R"x({"status":405,"message":"method PATCH is not allowed on /v1/config (allowed: GET, HEAD)"})x");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"Allow", "GET, HEAD"}));

  req.method = "OPTIONS";
  r = server.Handle(req);
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.headers[0].second, "GET, HEAD");

  req.method = "GET";
  req.path = "/v1/namespaces/%G1";
  r = server.Handle(req);
  EXPECT_EQ(r.status, 400);
}

TEST(HttpServerHandle, TheFilterRunsFirstAndAThrowingHandlerIsA500) {
  Router router = TestRouter();
  router.Add("GET", "/boom",
             [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("disk on fire"); });
  HttpServerOptions o = JsonErrors();
  o.filter = [](const HttpRequest& r) -> std::optional<HttpResponse> {
    if (r.Header("X-Key") == "k") return std::nullopt;
    return HttpResponse::Json(401, "no key");
  };
  HttpServer server(std::move(router), o);
  HttpRequest req;
  req.method = "GET";
  req.path = "/nope";  // refused before routing: an unknown path does not reveal itself
  EXPECT_EQ(server.Handle(req).status, 401);
  req.headers["x-key"] = "k";
  EXPECT_EQ(server.Handle(req).status, 404);
  req.path = "/boom";
  HttpResponse r = server.Handle(req);
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("internal error: disk on fire"), std::string::npos);
}

TEST(HttpLog, OneLineWithoutControlCharacters) {
  HttpLogEntry e{"127.0.0.1:5", "GET", "/v1/a\nb", 200, 120, 0.25};
  const std::string line = FormatLogLine(e);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NE(line.find(" 127.0.0.1:5 GET /v1/a?b 200 120B 0.2ms"), std::string::npos) << line;
}

// ---- over loopback sockets -------------------------------------------------------------------

// A server on a free loopback port, serving in a thread; collects its log lines.
class LiveServer {
 public:
  explicit LiveServer(Router router, HttpServerOptions o = JsonErrors()) {
    o.host = "127.0.0.1";
    o.port = 0;
    o.keep_alive_timeout_seconds = 1;
    o.read_timeout_seconds = 1;
    o.log = [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(mu_);
      log_.push_back(line);
    };
    server_ = std::make_unique<HttpServer>(std::move(router), std::move(o));
    Status st = server_->Bind();
    EXPECT_TRUE(st.ok()) << st.ToString();
    thread_ =
        std::thread([this] { serve_status_ = server_->Serve([this] { return stop_.load(); }); });
  }
  ~LiveServer() { Stop(); }
  void Stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    thread_.join();
  }
  int port() const { return server_->port(); }
  HttpServer& server() { return *server_; }
  std::vector<std::string> Log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  Status serve_status() const { return serve_status_; }

 private:
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  Status serve_status_;
  std::mutex mu_;
  std::vector<std::string> log_;
};

class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
  struct Response {
    int status = 0;
    std::string headers;  // raw header block, lower-cased
    std::string body;
  };
  // Reads one response (Content-Length framed; `head`: the answer to a HEAD, headers only);
  // status 0 when the connection closed first.
  Response Read(bool head_only = false) {
    Response r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return r;
    }
    std::string block = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    r.status = std::atoi(block.substr(9, 3).c_str());
    for (char& c : block) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers = block;
    size_t length = 0;
    const size_t cl = block.find("content-length: ");
    if (cl != std::string::npos && !head_only) length = std::stoul(block.substr(cl + 16));
    while (buf_.size() < length) {
      if (!Fill()) return r;
    }
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }
  // True when the server closed the connection (read returns 0) within the receive timeout.
  bool Closed() {
    char c;
    return ::recv(fd_, &c, 1, 0) == 0;
  }

 private:
  bool Fill() {
    char tmp[4096];
    const ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

Router EchoRouter() {
  Router r = TestRouter();
  r.Add("POST", "/echo", [](const HttpRequest& req) {
    return HttpResponse::Json(
        200, "got " + std::to_string(req.body.size()) + ": " + req.body + " q=" + req.Query("q"));
  });
  return r;
}

TEST(HttpServerLive, KeepAliveServesSeveralRequestsOnOneConnectionAndLogsEach) {
  LiveServer s(EchoRouter());
  RawClient c(s.port());
  ASSERT_TRUE(c.connected());
  c.Send("GET /v1/config HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r1 = c.Read();
  EXPECT_EQ(r1.status, 200);
  EXPECT_EQ(r1.body, "config|");
  EXPECT_NE(r1.headers.find("content-type: application/json"), std::string::npos);
  // Pipelined: two requests in one write, the POST with a Content-Length body and a query.
  c.Send(
      "POST /echo?q=a%20b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
      "GET /v1/namespaces/n/tables/t HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r2 = c.Read();
  EXPECT_EQ(r2.status, 200);
  EXPECT_EQ(r2.body, "got 5: hello q=a b");
  auto r3 = c.Read();
  EXPECT_EQ(r3.status, 200);
  EXPECT_EQ(r3.body, "table|namespace=n;table=t;");
  s.Stop();
  auto log = s.Log();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_NE(log[0].find(" GET /v1/config 200 7B "), std::string::npos) << log[0];
  EXPECT_NE(log[1].find(" POST /echo?q=a%20b 200 "), std::string::npos) << log[1];
}

TEST(HttpServerLive, ARefusedRequestsBodyIsNotReadAsTheNextRequest) {
  LiveServer s(EchoRouter());
  RawClient c(s.port());
  // A body that looks like a request: if the server did not consume it after the 405, it would
  // answer it as a second request and the GET below would get the wrong answer.
  const std::string smuggled = "GET /v1/config HTTP/1.1\r\nHost: x\r\n\r\n";
  c.Send("POST /v1/namespaces/n/tables/t HTTP/1.1\r\nHost: x\r\nContent-Length: " +
         std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled +
         "GET /v1/namespaces/n HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r1 = c.Read();
  EXPECT_EQ(r1.status, 405);
  EXPECT_NE(r1.headers.find("allow: get, delete, head"), std::string::npos) << r1.headers;
  EXPECT_NE(r1.body.find("\"status\":405"), std::string::npos);
  auto r2 = c.Read();
  EXPECT_EQ(r2.status, 200);
  EXPECT_EQ(r2.body, "ns|namespace=n;");
}

TEST(HttpServerLive, BodiesOverTheLimitAre413WithTheApiErrorBody) {
  HttpServerOptions o = JsonErrors();
  o.max_body_bytes = 16;
  LiveServer s(EchoRouter(), o);
  RawClient c(s.port());
  c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n" + std::string(17, 'x'));
  auto r = c.Read();
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.body,
            R"({"status":413,"message":"request body of 17 bytes is over the limit of 16"})");
  RawClient ok(s.port());
  ok.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n\r\n" + std::string(16, 'y'));
  EXPECT_EQ(ok.Read().status, 200);
}

TEST(HttpServerLive, MalformedRequestsAre400AndOddMethodsAre405) {
  LiveServer s(EchoRouter());
  {
    RawClient c(s.port());
    c.Send("GARBAGE\r\n\r\n");
    auto r = c.Read();
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(
        r.body,
        R"x({"status":400,"message":"malformed request line (expected 'METHOD TARGET HTTP/1.1')"})x");
    EXPECT_TRUE(c.Closed());
  }
  {
    RawClient c(s.port());
    c.Send("TRACE /v1/config HTTP/1.1\r\nHost: x\r\n\r\n");
    auto r = c.Read();
    EXPECT_EQ(r.status, 405);
    EXPECT_NE(r.body.find("method TRACE is not allowed on /v1/config"), std::string::npos)
        << r.body;
  }
  {
    // A long path (just under the request-line limit) is routed, not a crash.
    RawClient c(s.port());
    c.Send("GET /" + std::string(8000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(c.Read().status, 404);
  }
  {
    RawClient c(s.port());
    c.Send("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(c.Read().status, 414);
  }
}

TEST(HttpServerLive, HeadAnswersWithHeadersOnly) {
  LiveServer s(EchoRouter());
  RawClient c(s.port());
  c.Send(
      "HEAD /v1/namespaces/n/tables/t HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /v1/config HTTP/1.1\r\nHost: x\r\n\r\n");
  // The HEAD response announces the GET body's length but carries no body, so the next response
  // follows right after its headers.
  auto h = c.Read(/*head=*/true);
  EXPECT_EQ(h.status, 200);
  EXPECT_NE(h.headers.find("content-length: 26"), std::string::npos) << h.headers;
  auto g = c.Read();
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(g.body, "config|");
}

TEST(HttpServerLive, ConnectionCloseIsHonoured) {
  LiveServer s(EchoRouter());
  RawClient c(s.port());
  c.Send("GET /v1/config HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.headers.find("connection: close"), std::string::npos);
  EXPECT_TRUE(c.Closed());
}

TEST(HttpServerLive, StopEndsServeWithAnIdleKeepAliveConnectionOpen) {
  auto s = std::make_unique<LiveServer>(EchoRouter());
  RawClient c(s->port());
  c.Send("GET /v1/config HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.Read().status, 200);
  const auto start = std::chrono::steady_clock::now();
  s->Stop();  // the connection stays open on the client side
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 3.0);  // keep-alive timeout 1 s + polling
  EXPECT_TRUE(s->serve_status().ok()) << s->serve_status().ToString();
  RawClient after(s->port());
  EXPECT_FALSE(after.connected());  // the listening socket is gone
}

TEST(HttpServerLive, ExpectContinueGetsA100BeforeTheBody) {
  LiveServer s(EchoRouter());
  RawClient c(s.port());
  c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
  auto interim = c.Read(/*head_only=*/true);
  EXPECT_EQ(interim.status, 100);
  c.Send("abc");
  auto r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "got 3: abc q=");
}

TEST(HttpServerLive, ChunkedBodiesAre501AndTheConnectionCloses) {
  LiveServer s(EchoRouter());
  RawClient c(s.port());
  c.Send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  auto r = c.Read();
  EXPECT_EQ(r.status, 501);
  EXPECT_NE(r.headers.find("connection: close"), std::string::npos);
  EXPECT_TRUE(c.Closed());
}

TEST(HttpServerLive, AnIncompleteRequestGets408AfterTheReadTimeout) {
  LiveServer s(EchoRouter());
  RawClient c(s.port());
  c.Send("GET /v1/config HTTP/1.1\r\nHost: x\r\n");  // no blank line
  const auto start = std::chrono::steady_clock::now();
  auto r = c.Read();
  EXPECT_EQ(r.status, 408);
  EXPECT_GE(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 0.9);
}

TEST(HttpServerLive, ConnectionsOverTheLimitGet503) {
  HttpServerOptions o = JsonErrors();
  o.max_connections = 1;
  LiveServer s(EchoRouter(), o);
  RawClient first(s.port());
  first.Send("GET /v1/config HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(first.Read().status, 200);  // stays open (keep-alive)
  RawClient second(s.port());
  auto r = second.Read();
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("too many connections (1)"), std::string::npos) << r.body;
}

TEST(HttpServerLive, ConcurrentKeepAliveClientsAllGetTheirOwnAnswers) {
  LiveServer s(EchoRouter());
  std::atomic<int> wrong{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&, t] {
      RawClient c(s.port());
      for (int i = 0; i < 25; ++i) {
        const std::string body = "c" + std::to_string(t) + "-" + std::to_string(i);
        c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body);
        auto r = c.Read();
        if (r.status != 200 || r.body != "got " + std::to_string(body.size()) + ": " + body + " q=") {
          ++wrong;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(wrong.load(), 0);
  s.Stop();
  EXPECT_EQ(s.Log().size(), 200u);
}

TEST(HttpServerLive, BindReportsAnAddressInUse) {
  LiveServer first(EchoRouter());
  HttpServerOptions o = JsonErrors();
  o.host = "127.0.0.1";
  o.port = first.port();
  HttpServer second(EchoRouter(), o);
  Status st = second.Bind();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cannot listen on 127.0.0.1:" + std::to_string(first.port())),
            std::string::npos)
      << st.message();
}

}  // namespace
}  // namespace weir::net

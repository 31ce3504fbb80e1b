// rest_catalog.h: the read side of the Iceberg REST catalog API (apache/iceberg
// open-api/rest-catalog-open-api.yaml) over the Iceberg tables of one weir store, so Spark, Trino,
// PyIceberg, DuckDB and other Iceberg engines find weir's tables by name (`weir serve --catalog`).
//
// Served (every path also without a prefix; weir advertises none):
//   GET  /v1/config                                    defaults, overrides, supported endpoints
//   GET  /v1/namespaces[?parent=a%1Fb]                 namespaces (one level below `parent`)
//   GET  /v1/namespaces/{ns}          HEAD (204/404)   a namespace and its (empty) properties
//   GET  /v1/namespaces/{ns}/tables                    table identifiers of a namespace
//   GET  /v1/namespaces/{ns}/tables/{table}  HEAD      LoadTableResult: metadata-location and
//                                                      the metadata JSON object, ETag; 304 for
//                                                      a matching If-None-Match
//   POST /v1/namespaces/{ns}/tables/{table}/metrics    accepted and dropped (scan reports)
// Every write endpoint of the spec answers 405 with a message saying the catalog is read-only:
// a weir table changes only through weir's own commits (`weir run`, redrive, compaction), which
// move the pointer in the same store transaction as the task checkpoints.
//
// Where the answers come from: the store's `iceberg_tables` rows (Iceberg's JDBC-catalog shape;
// a namespace is stored as its levels joined by "."), read on every request, so a table a running
// `weir run` commits is visible to the next request. A namespace exists while a table is in it
// (weir creates none on its own). The metadata object is the metadata JSON file the pointer
// names, checked with the Iceberg library (a truncated or foreign file is a 500 naming the file,
// never a half answer).
//
// Errors are the spec's `{"error": {"message", "type", "code"}}`: 404 NoSuchNamespaceException /
// NoSuchTableException, 401 NotAuthorizedException, 405 for writes, 400 BadRequestException,
// 500 InternalServerError.
//
// Authentication: with a token configured, every request (including /v1/config) needs
// `Authorization: Bearer <token>`; a missing or different token is 401 (RFC 6750 and the spec's
// UnauthorizedResponse: the token is "malformed or invalid"). Without a token the catalog is open
// to whoever reaches the address, which is why `weir serve` listens on loopback by default.
//
// Ownership: borrows the Store, which must outlive the catalog and the server using it.
// Thread-safety: handlers are called concurrently from the server's threads; they only read the
// store (itself thread-safe) and files.
#pragma once

#include <string>

#include "exec/store.h"
#include "net/http_server.h"

namespace weir::server {

struct RestCatalogOptions {
  std::string token;  // empty: no authentication
};

class RestCatalog {
 public:
  RestCatalog(Store& store, RestCatalogOptions options)
      : store_(store), options_(std::move(options)) {}

  // Adds the catalog's routes to `router`.
  void AddRoutes(net::Router& router) const;
  // Sets the filter (authentication) and the error renderer of `options` for this catalog.
  void Configure(net::HttpServerOptions& options) const;

  // An error in the spec's format.
  static net::HttpResponse Error(int status, const std::string& type, const std::string& message);

 private:
  net::HttpResponse Config(const net::HttpRequest& req) const;
  net::HttpResponse ListNamespaces(const net::HttpRequest& req) const;
  net::HttpResponse LoadNamespace(const net::HttpRequest& req, bool head) const;
  net::HttpResponse ListTables(const net::HttpRequest& req) const;
  net::HttpResponse LoadTable(const net::HttpRequest& req, bool head) const;

  Store& store_;
  RestCatalogOptions options_;
};

}  // namespace weir::server

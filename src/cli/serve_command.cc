// weir serve --catalog FILE: serves the Iceberg tables of a store over the Iceberg REST catalog
// API (server/rest_catalog.h) until SIGINT or SIGTERM.
//
// FILE is a dataset YAML (its `store` is served, as every dataset command finds its store) or the
// store's SQLite file itself. Either way the whole store is served: every table of every dataset
// that commits to it.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/interrupt.h"
#include "net/http_server.h"
#include "server/rest_catalog.h"

namespace weir::cli {
namespace {

// True when `path` starts with SQLite's file header: the argument is the store itself.
bool IsSqliteFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char header[16] = {};
  in.read(header, sizeof(header));
  return in.gcount() == 16 && std::string(header, 16) == std::string("SQLite format 3\0", 16);
}

int Serve(const std::string& file, const std::string& listen, const std::string& token) {
  std::string host;
  int port = 0;
  if (!net::ParseListen(listen, &host, &port)) {
    PrintError("--listen '" + listen + "' is not HOST:PORT (e.g. 127.0.0.1:8181, [::1]:8181)");
    return kExitBadConfig;
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    PrintError("--catalog " + file + ": no such file (give the dataset YAML, or its store file)");
    return kExitBadConfig;
  }
  std::unique_ptr<Store> store;
  if (IsSqliteFile(file)) {
    // A store opened by path alone: the catalog reads only absolute metadata locations, so no
    // base folder is needed (and none is recorded).
    auto s = Store::Open(std::filesystem::absolute(file).lexically_normal().string());
    if (!s.ok()) {
      PrintError(s.status().message());
      return kExitFailed;
    }
    store = std::move(s).value();
  } else {
    auto ds = OpenDatasetOrReport(file);
    if (!ds.ok()) return ds.exit_code;
    store = std::move(ds.store);
  }
  if (!token.empty() && token.find_first_of(" \t\r\n") != std::string::npos) {
    PrintError("--token must not contain spaces or line breaks (it is sent as a bearer token)");
    return kExitBadConfig;
  }
  if (token.empty() && !net::IsLoopback(host)) {
    PrintWarning("listening on " + host +
                 " without --token: anyone who reaches this address can "
                 "read every table's metadata and file locations");
  }

  server::RestCatalog catalog(*store, server::RestCatalogOptions{token});
  net::Router router;
  catalog.AddRoutes(router);
  net::HttpServerOptions options;
  options.host = host;
  options.port = port;
  catalog.Configure(options);
  net::HttpServer http(std::move(router), std::move(options));
  Status st = http.Bind();
  if (!st.ok()) {
    PrintError(st.message());
    return kExitFailed;
  }
  InstallStopHandlers();
  auto tables = store->IcebergTables();
  const std::string url = "http://" +
                          (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                          std::to_string(http.port());
  std::printf("weir serve: Iceberg REST catalog of store %s at %s (read-only, %zu table%s%s)\n",
              store->path().c_str(), url.c_str(), tables.ok() ? tables->size() : 0,
              tables.ok() && tables->size() == 1 ? "" : "s",
              token.empty() ? "" : ", bearer token required");
  std::printf("catalog uri for engines: %s  (SIGINT or SIGTERM stops)\n", url.c_str());
  std::fflush(stdout);
  st = http.Serve([] { return StopRequested(); });
  if (!st.ok()) {
    PrintError(st.message());
    return kExitFailed;
  }
  if (StopRequested()) {
    std::fprintf(stderr, "weir serve: stopped by %s\n",
                 StopSignal() == SIGINT    ? "SIGINT"
                 : StopSignal() == SIGTERM ? "SIGTERM"
                                           : "a signal");
  }
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, int& exit_code) {
  struct Args {
    std::string catalog, listen = "127.0.0.1:8181", token;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "serve", "Serve the lake's Iceberg tables to engines over the Iceberg REST catalog API");
  cmd->add_option("--catalog", a->catalog,
                  "dataset YAML whose store to serve (every table in that store), or the store "
                  "file itself")
      ->required();
  cmd->add_option("--listen", a->listen, "HOST:PORT to listen on (only there)")
      ->capture_default_str();
  cmd->add_option("--token", a->token,
                  "require 'Authorization: Bearer TOKEN' on every request (prefer the "
                  "environment variable, which other users cannot see in the process list)")
      ->envname("WEIR_SERVE_TOKEN");
  cmd->callback([a, &exit_code] { exit_code = Serve(a->catalog, a->listen, a->token); });
}

}  // namespace weir::cli

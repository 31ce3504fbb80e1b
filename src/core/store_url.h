// Where a dataset's task store lives: a local SQLite file (the default) or a PostgreSQL database
// named by a URL. Pure string checks, shared by the config loader (which validates `store:`)
// and the store (which connects). Stateless and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace weir {

// "postgresql://..." or "postgres://..." (the schemes libpq accepts).
bool IsPostgresStoreUrl(std::string_view s);
// Why `url` is not a usable PostgreSQL store URL (postgresql://[user[:password]@]host[:port]/db
// [?options]), or nullopt when it is. libpq does the full parsing when connecting; this catches
// the mistakes a user makes in a dataset file: no host, no database, a port that is no number.
std::optional<std::string> PostgresUrlProblem(std::string_view url);
// `url` with any password replaced by "***" (user:secret@ -> user:***@, and a `password=`
// option), for messages and logs: credentials never leave the process.
std::string RedactStoreUrl(std::string_view url);

}  // namespace weir

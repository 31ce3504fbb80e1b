#!/usr/bin/env bash
# Installs what weir needs to build, test and benchmark on Debian 12. Idempotent and quiet when
# everything is present. DuckDB (header + shared library, pinned) comes from the npm registry into
# third_party/duckdb/ (git-ignored) unless DUCKDB_ROOT points at an existing install.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

DEB_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libsimdjson-dev nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev
  libsqlite3-dev libpq-dev libcurl4-openssl-dev libpugixml-dev librdkafka-dev librocksdb-dev
  libgeos-dev zlib1g-dev libzstd-dev libcpp-httplib-dev libre2-dev libjemalloc-dev
  libgtest-dev libgmock-dev libbenchmark-dev python3-avro python3-boto3
  python3 python3-shapely python3-geopandas gdal-bin
  postgresql postgresql-15-postgis-3 wget kafkacat time clang libclang-rt-14-dev wrk
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js may come from elsewhere (with npm bundled); only ask Debian for it when it is absent.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  echo "install-deps: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# DuckDB 1.4.4, pinned. duckdb.h from the `duckdb` package, libduckdb.so from the prebuilt node bindings.
DUCKDB_VERSION=1.4.4
DUCKDB_BINDINGS=1.4.4-r.4
if [ -z "${DUCKDB_ROOT:-}" ]; then
  dest="$here/third_party/duckdb"
  if [ ! -f "$dest/include/duckdb.h" ] || [ ! -f "$dest/lib/libduckdb.so" ] \
     || [ "$(cat "$dest/VERSION" 2>/dev/null)" != "$DUCKDB_VERSION" ]; then
    echo "install-deps: fetching DuckDB $DUCKDB_VERSION from the npm registry"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent "duckdb@$DUCKDB_VERSION" "@duckdb/node-bindings-linux-x64@$DUCKDB_BINDINGS" >/dev/null)
    mkdir -p "$tmp/a" "$tmp/b"
    tar -xzf "$tmp"/duckdb-"$DUCKDB_VERSION".tgz -C "$tmp/a"
    tar -xzf "$tmp"/duckdb-node-bindings-linux-x64-*.tgz -C "$tmp/b"
    hdr=$(find "$tmp/a" -name duckdb.h -path '*include/duckdb.h' | head -n1)
    lib=$(find "$tmp/b" -name 'libduckdb.so' | head -n1)
    [ -n "$hdr" ] && [ -n "$lib" ] || { echo "install-deps: duckdb.h or libduckdb.so not found in npm packages" >&2; exit 1; }
    rm -rf "$dest"; mkdir -p "$dest/include" "$dest/lib"
    cp "$hdr" "$dest/include/duckdb.h"
    cp "$lib" "$dest/lib/libduckdb.so"
    echo "$DUCKDB_VERSION" > "$dest/VERSION"
  fi
fi

# Test and benchmark peers from npm: s3rver (S3), @duckdb/node-api (independent lake reader, bench
# peer), icebird (independent Iceberg table reader, tests/lake/icebird_read.mjs) and iceberg-js
# (independent Iceberg REST catalog client, tests/e2e/iceberg_js_catalog.mjs; 0.8.1 is the last
# release that runs on Node 20).
nodedir="$here/third_party/node"
if [ ! -d "$nodedir/node_modules/@duckdb/node-api" ] || [ ! -d "$nodedir/node_modules/icebird" ] \
   || [ ! -d "$nodedir/node_modules/s3rver" ] \
   || [ "$(node -p 'require(process.argv[1]).version' "$nodedir/node_modules/iceberg-js/package.json" 2>/dev/null)" != "0.8.1" ]; then
  echo "install-deps: installing npm test peers"
  mkdir -p "$nodedir"
  (cd "$nodedir" && [ -f package.json ] || echo '{"name":"weir-peers","private":true}' > "$nodedir/package.json")
  (cd "$nodedir" && npm install --silent --no-audit --no-fund "@duckdb/node-api@1.4.4-r.4" "icebird@0.3.1" \
     "iceberg-js@0.8.1" "s3rver@3.7.1" >/dev/null)
fi
exit 0

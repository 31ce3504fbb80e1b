// DuckDB peer of the ingest benchmark, and an independent reader of weir's lake.
//
//   node duckdb_peer.mjs ingest --data DIR --out DIR [--threads N] [--json FILE]
//       read_json(DIR/*.jsonl, ignore_errors=true) -> COPY ... PARTITION_BY (event_type, dt)
//       into --out (removed first). Prints and writes {seconds, rows, files, ...}.
//   node duckdb_peer.mjs count --lake DIR [--threads N] [--json FILE]
//       Counts rows and files of a Hive-partitioned Parquet table (e.g. weir's lake/events).
//
// @duckdb/node-api is resolved from third_party/node/node_modules (scripts/install-deps.sh),
// or from $WEIR_NODE_MODULES when set.
import { createRequire } from 'node:module';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const nodeDir = process.env.WEIR_NODE_MODULES
  ? resolve(process.env.WEIR_NODE_MODULES, '..')
  : resolve(here, '../../third_party/node');
let DuckDBInstance;
try {
  ({ DuckDBInstance } = createRequire(join(nodeDir, 'package.json'))('@duckdb/node-api'));
} catch (e) {
  console.error(`duckdb_peer: cannot load @duckdb/node-api from ${nodeDir}/node_modules ` +
                `(run scripts/install-deps.sh): ${e.message}`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = { mode: argv[0], threads: 2 };
  for (let i = 1; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (argv[i + 1] === undefined) throw new Error(`missing value for ${argv[i]}`);
    args[key] = argv[i + 1];
  }
  return args;
}

function countFiles(dir, suffix) {
  let n = 0;
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      const sub = countFiles(p, suffix);
      n += sub.n;
      bytes += sub.bytes;
    } else if (entry.name.endsWith(suffix)) {
      n += 1;
      bytes += statSync(p).size;
    }
  }
  return { n, bytes };
}

const sqlString = (s) => `'${String(s).replaceAll("'", "''")}'`;

async function open(threads) {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  await conn.run(`SET threads=${Number(threads)}`);
  await conn.run('SET preserve_insertion_order=false');
  return conn;
}

async function scalarRows(conn, sql) {
  const reader = await conn.runAndReadAll(sql);
  return reader.getRowObjectsJS();
}

// The same lake columns as the weir dataset (bench/ingest/dataset.yaml). Lines that do not fit
// the declared types (truncated, not JSON, "created_at":"yesterday", "latitude":"north") are
// dropped by ignore_errors; lines without a required field are filtered out, as weir would
// send them to its error records.
function ingestSql(dataDir, outDir) {
  const columns = `{
    data: 'STRUCT(id VARCHAR, type VARCHAR, attributes STRUCT(user_id VARCHAR, latitude DOUBLE,
      longitude DOUBLE, listing_id VARCHAR, price DOUBLE, device VARCHAR, query VARCHAR,
      results BIGINT, page BIGINT, conversation_id VARCHAR, length BIGINT))',
    meta: 'STRUCT(created_at BIGINT, source VARCHAR)'
  }`;
  return `COPY (
    SELECT data.id AS id,
           data.type AS event_type,
           epoch_ms(meta.created_at) AS created_at,
           data.attributes.user_id AS user_id,
           data.attributes.latitude AS latitude,
           data.attributes.longitude AS longitude,
           to_json(data.attributes) AS attributes,
           CAST(epoch_ms(meta.created_at) AS DATE) AS dt
    FROM read_json(${sqlString(join(dataDir, '*.jsonl'))}, format='newline_delimited',
                   ignore_errors=true, columns=${columns})
    WHERE data.id IS NOT NULL AND data.type IS NOT NULL AND meta.created_at IS NOT NULL
  ) TO ${sqlString(outDir)} (FORMAT parquet, PARTITION_BY (event_type, dt), OVERWRITE_OR_IGNORE)`;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let result;
  if (args.mode === 'ingest') {
    if (!args.data || !args.out) throw new Error('ingest needs --data DIR --out DIR');
    rmSync(args.out, { recursive: true, force: true });
    const conn = await open(args.threads);
    const t0 = process.hrtime.bigint();
    const rows = await scalarRows(conn, ingestSql(resolve(args.data), resolve(args.out)));
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const copied = Number(Object.values(rows[0])[0]);
    const files = countFiles(args.out, '.parquet');
    // Cross-check by reading the written lake back.
    // ignore_errors turns a value of the wrong type inside a struct into NULL instead of
    // dropping the line: the generator's "latitude":"north" lines come through with a NULL
    // latitude next to a longitude, which no valid generated line has. Those rows are malformed
    // lines DuckDB kept; every other row is a valid event.
    const back = await scalarRows(conn, `SELECT count(*)::BIGINT AS n,
        count(*) FILTER (WHERE latitude IS NULL AND longitude IS NOT NULL)::BIGINT AS bad
        FROM read_parquet(${sqlString(join(resolve(args.out), '**', '*.parquet'))},
                          hive_partitioning=true)`);
    result = { engine: `duckdb ${(await scalarRows(conn, 'SELECT version() AS v'))[0].v}`,
               threads: Number(args.threads), seconds, rows: copied,
               rows_read_back: Number(back[0].n), malformed_kept: Number(back[0].bad),
               valid_kept: Number(back[0].n) - Number(back[0].bad),
               files: files.n, bytes: files.bytes };
  } else if (args.mode === 'count') {
    if (!args.lake) throw new Error('count needs --lake DIR');
    if (!existsSync(args.lake)) throw new Error(`no lake table at ${args.lake}`);
    const conn = await open(args.threads);
    const files = countFiles(args.lake, '.parquet');
    let rows = 0;
    if (files.n > 0) {
      const r = await scalarRows(conn, `SELECT count(*)::BIGINT AS n, count(DISTINCT id)::BIGINT
          AS ids FROM read_parquet(${sqlString(join(resolve(args.lake), '**', '*.parquet'))},
          hive_partitioning=true)`);
      rows = Number(r[0].n);
      result = { rows, distinct_ids: Number(r[0].ids), files: files.n, bytes: files.bytes };
    } else {
      result = { rows: 0, distinct_ids: 0, files: 0, bytes: 0 };
    }
  } else {
    throw new Error('usage: duckdb_peer.mjs ingest|count ...');
  }
  const text = JSON.stringify(result);
  if (args.json) writeFileSync(args.json, text + '\n');
  console.log(text);
}

main().catch((e) => {
  console.error(`duckdb_peer: ${e.message}`);
  process.exit(1);
});

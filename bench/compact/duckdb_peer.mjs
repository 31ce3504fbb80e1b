// DuckDB peer of the compaction benchmark: rewrites the same partitions weir compacts.
//
//   node duckdb_peer.mjs --lake TABLE_DIR --out DIR [--threads N] [--json FILE]
//
// For every partition folder under TABLE_DIR/data holding 2 or more *.parquet files (the ones
// `weir lake compact` rewrites when every file is below the target), one
//   COPY (SELECT * FROM read_parquet([its files]) ORDER BY user_id)
//     TO 'DIR/<partition>/part.parquet' (FORMAT parquet, COMPRESSION zstd)
// in one DuckDB instance (SET threads=N). Prints and writes {seconds, partitions, files_in,
// bytes_in, bytes_out, rows, mb_per_s}; mb_per_s = input bytes / wall seconds, as weir reports.
// @duckdb/node-api comes from third_party/node/node_modules (scripts/install-deps.sh).
import { createRequire } from 'node:module';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
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

const args = { threads: 2 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) args[argv[i].replace(/^--/, '')] = argv[i + 1];
if (!args.lake || !args.out) {
  console.error('usage: node duckdb_peer.mjs --lake TABLE_DIR --out DIR [--threads N] [--json FILE]');
  process.exit(2);
}
const sqlString = (s) => `'${String(s).replaceAll("'", "''")}'`;

// Partition folder -> its visible .parquet files (hidden and staged files are not data).
function partitions(dir, out = new Map()) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.') || e.name.startsWith('_')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) partitions(p, out);
    else if (e.name.endsWith('.parquet')) {
      if (!out.has(dir)) out.set(dir, []);
      out.get(dir).push(p);
    }
  }
  return out;
}

const data = join(resolve(args.lake), 'data');
// The partitions weir compacts: those with 2 or more small files (all are small here).
const parts = new Map([...partitions(data)].filter(([, files]) => files.length >= 2));
let filesIn = 0, bytesIn = 0;
for (const files of parts.values()) {
  filesIn += files.length;
  for (const f of files) bytesIn += statSync(f).size;
}
rmSync(args.out, { recursive: true, force: true });
const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
await conn.run(`SET threads=${Number(args.threads)}`);
let rows = 0;
const t0 = process.hrtime.bigint();
for (const [dir, files] of parts) {
  const target = join(resolve(args.out), relative(data, dir));
  mkdirSync(target, { recursive: true });
  const list = files.map(sqlString).join(', ');
  const reader = await conn.runAndReadAll(
    `COPY (SELECT * FROM read_parquet([${list}]) ORDER BY user_id) ` +
    `TO ${sqlString(join(target, 'part.parquet'))} (FORMAT parquet, COMPRESSION zstd)`);
  rows += Number(Object.values(reader.getRowObjectsJS()[0])[0]);
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
let bytesOut = 0;
for (const files of partitions(resolve(args.out)).values()) {
  for (const f of files) bytesOut += statSync(f).size;
}
const v = (await conn.runAndReadAll('SELECT version() AS v')).getRowObjectsJS()[0].v;
const result = { engine: `duckdb ${v}`, threads: Number(args.threads), seconds,
                 partitions: parts.size, files_in: filesIn, bytes_in: bytesIn, bytes_out: bytesOut,
                 rows, mb_per_s: bytesIn / 1048576 / seconds };
console.log(JSON.stringify(result));
if (args.json) writeFileSync(args.json, JSON.stringify(result, null, 2) + '\n');

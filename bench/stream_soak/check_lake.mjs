// The soak's independent check with DuckDB (through @duckdb/node-api, as bench/ingest/duckdb_peer.mjs):
//
//   node check_lake.mjs --lake DIR --acked FILE --sent FILE [--json OUT]
//
// Reads every Parquet file under DIR (the table's data/ folder: weir renames a file into it only
// after the commit that references it, and the final `weir run` finished any pending renames and
// removed what was never committed, so the folder holds exactly the committed files) and
// compares its `id` column with the acknowledged and sent ids (one id a line). Prints JSON:
// rows, distinct ids, ids present more than once, acknowledged ids missing, ids never sent, and
// how many sent-but-unacknowledged ids landed (allowed, once).
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const nodeDir = process.env.WEIR_NODE_MODULES
  ? resolve(process.env.WEIR_NODE_MODULES, '..')
  : resolve(here, '../../third_party/node');
const { DuckDBInstance } = createRequire(join(nodeDir, 'package.json'))('@duckdb/node-api');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const q = (s) => `'${String(s).replaceAll("'", "''")}'`;
const ids = (file) => `read_csv(${q(resolve(file))}, header=false, columns={'id': 'VARCHAR'})`;

const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
await conn.run('SET threads=2');
const rows = async (sql) => (await conn.runAndReadAll(sql)).getRowObjectsJS();
const num = (v) => Number(v);

await conn.run(`CREATE TABLE lake AS SELECT id FROM read_parquet(${q(join(resolve(args.lake), '**', '*.parquet'))})`);
await conn.run(`CREATE TABLE acked AS SELECT DISTINCT id FROM ${ids(args.acked)}`);
await conn.run(`CREATE TABLE sent AS SELECT DISTINCT id FROM ${ids(args.sent)}`);
const [t] = await rows(`SELECT count(*) AS n, count(DISTINCT id) AS d FROM lake`);
const dups = await rows(`SELECT id, count(*) AS c FROM lake GROUP BY id HAVING count(*) > 1 ORDER BY id LIMIT 5`);
const [dupCount] = await rows(`SELECT count(*) AS n FROM (SELECT id FROM lake GROUP BY id HAVING count(*) > 1)`);
const missing = await rows(`SELECT id FROM acked EXCEPT SELECT id FROM lake ORDER BY id LIMIT 5`);
const [missingCount] = await rows(`SELECT count(*) AS n FROM (SELECT id FROM acked EXCEPT SELECT id FROM lake)`);
const never = await rows(`SELECT id FROM lake EXCEPT SELECT id FROM sent ORDER BY id LIMIT 5`);
const [neverCount] = await rows(`SELECT count(*) AS n FROM (SELECT id FROM lake EXCEPT SELECT id FROM sent)`);
const [unacked] = await rows(`SELECT count(*) AS n FROM (SELECT DISTINCT id FROM lake EXCEPT SELECT id FROM acked)`);
const [counts] = await rows(`SELECT (SELECT count(*) FROM acked) AS acked, (SELECT count(*) FROM sent) AS sent`);
const result = {
  rows: num(t.n), distinct_ids: num(t.d), acked: num(counts.acked), sent: num(counts.sent),
  duplicated_ids: num(dupCount.n), duplicated_examples: dups.map((r) => `${r.id} x${num(r.c)}`),
  missing_acked: num(missingCount.n), missing_examples: missing.map((r) => r.id),
  never_sent: num(neverCount.n), never_sent_examples: never.map((r) => r.id),
  unacknowledged_present: num(unacked.n),
};
const text = JSON.stringify(result);
if (args.json) writeFileSync(args.json, text + '\n');
console.log(text);

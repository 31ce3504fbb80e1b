// Prints the ingest benchmark's comparison and writes bench/out/ingest/result.json.
//   node report.mjs --out bench/out/ingest --weir-ok 0|1 --weir-load L --duck-load L
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
}
const out = args.out;
const readJson = (f) => (existsSync(join(out, f)) ? JSON.parse(readFileSync(join(out, f))) : null);
const readNum = (f) =>
  (existsSync(join(out, f)) ? Number(readFileSync(join(out, f), 'utf8')) : null);

// GNU time -v output -> {wall_s, user_s, sys_s, max_rss_mb, cpu_percent}.
function parseTime(f) {
  const p = join(out, f);
  if (!existsSync(p)) return null;
  const text = readFileSync(p, 'utf8');
  const field = (label) => {
    // The value follows the line's last ": " (labels themselves contain colons).
    const m = text.match(new RegExp(`^\\s*${label}.*: (\\S+)\\s*$`, 'm'));
    return m ? m[1].trim() : null;
  };
  const wall = field('Elapsed \\(wall clock\\) time');
  let wallS = null;
  if (wall) wallS = wall.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
  return {
    wall_s: wallS,
    user_s: Number(field('User time')),
    sys_s: Number(field('System time')),
    cpu_percent: Number((field('Percent of CPU this job got') || '0').replace('%', '')),
    max_rss_mb: Math.round(Number(field('Maximum resident set size')) / 1024),
  };
}

// Error records: the lines of the published errors-*.jsonl files (not the folder's
// _weir_owner.json claim, nor anything still under _staging).
function countLines(dir) {
  if (!existsSync(dir)) return null;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += e.name === '_staging' ? 0 : countLines(p) || 0;
    else if (e.name.endsWith('.jsonl') && statSync(p).size > 0)
      n += readFileSync(p, 'utf8').split('\n').filter((l) => l).length;
  }
  return n;
}

const gen = readJson('data/gen-summary.json');
const events = gen.totals.events;
const duck = readJson('duckdb.json');
const duckTime = parseTime('duckdb.time');
const weirOk = args['weir-ok'] === '1';
const weirTime = weirOk ? parseTime('weir.time') : null;
const weirLake = readJson('weir_lake.json');
const weirMs = weirOk ? readNum('weir.ms') : null;

const result = {
  benchmark: 'ingest',
  dataset: {
    events, lines: gen.totals.lines, files: gen.files.length, bytes: gen.totals.bytes,
    valid: gen.totals.valid, duplicates: gen.totals.duplicates, malformed: gen.totals.malformed,
    blank: gen.totals.blank, seed: gen.options.seed,
  },
  duckdb: {
    engine: duck.engine, threads: duck.threads,
    copy_seconds: duck.seconds, process: duckTime,
    events_per_s: Math.round(events / duck.seconds),
    rows: duck.rows, files: duck.files, bytes: duck.bytes,
    valid_kept: duck.valid_kept, malformed_kept: duck.malformed_kept,
    valid_lost: gen.totals.valid - duck.valid_kept,
    load_average: Number(args['duck-load']),
  },
  weir: weirOk ? {
    seconds: weirMs / 1000, process: weirTime,
    events_per_s: Math.round(events / (weirMs / 1000)),
    lake_rows: weirLake ? weirLake.rows : null,
    lake_distinct_ids: weirLake ? weirLake.distinct_ids : null,
    lake_files: weirLake ? weirLake.files : null,
    lake_bytes: weirLake ? weirLake.bytes : null,
    expected_rows: gen.expected.lake_rows,
    rows_match: weirLake ? weirLake.rows === gen.expected.lake_rows : false,
    error_lines: countLines(join(out, 'errors')),
    expected_error_records: gen.expected.error_records,
    load_average: Number(args['weir-load']),
  } : { failed: true, log: join(out, 'weir.log'), process: parseTime('weir.time'),
          lake_rows: weirLake ? weirLake.rows : null, lake_files: weirLake ? weirLake.files : null,
          expected_rows: gen.expected.lake_rows },
};
if (weirOk) result.ratio_weir_over_duckdb = result.weir.events_per_s / result.duckdb.events_per_s;
writeFileSync(join(out, 'result.json'), JSON.stringify(result, null, 1) + '\n');

const fmt = (n) => (n === null || n === undefined ? '-' : Number(n).toLocaleString('en-US'));
const d = result.dataset;
console.log(`\n== ingest: ${fmt(d.events)} events, ${d.files} files, ` +
            `${(d.bytes / 1e6).toFixed(1)} MB (${fmt(d.valid)} valid, ` +
            `${fmt(d.malformed)} malformed, ` +
            `${fmt(d.blank)} blank)`);
const row = (name, secs, eps, proc, files, rows, load) =>
  console.log(`${name.padEnd(8)} ${String(secs).padStart(8)} s ${fmt(eps).padStart(11)} ev/s ` +
              `${String(proc ? proc.max_rss_mb : '-').padStart(6)} MB RSS ` +
              `${String(proc ? (proc.user_s + proc.sys_s).toFixed(1) : '-').padStart(6)} CPU-s ` +
              `${fmt(files).padStart(7)} files ${fmt(rows).padStart(10)} rows  (load ${load})`);
const dk = result.duckdb;
row('duckdb', dk.copy_seconds.toFixed(2), dk.events_per_s, dk.process, dk.files, dk.rows,
    dk.load_average);
if (weirOk) {
  const w = result.weir;
  row('weir', w.seconds.toFixed(2), w.events_per_s, w.process, w.lake_files, w.lake_rows,
      w.load_average);
  console.log(`weir/DuckDB throughput: ${result.ratio_weir_over_duckdb.toFixed(2)}x`);
  console.log(`weir lake rows ${fmt(w.lake_rows)} vs expected ${fmt(w.expected_rows)}: ` +
              `${w.rows_match ? 'OK' : 'MISMATCH'}; error records ${fmt(w.error_lines)} vs ` +
              `expected ${fmt(w.expected_error_records)}: ` +
              `${w.error_lines === w.expected_error_records ? 'OK' : 'MISMATCH'}`);
} else {
  const w = result.weir;
  console.log(`weir     failed or not available: see ${w.log}` +
              (w.lake_rows !== null
                ? ` (its lake holds ${fmt(w.lake_rows)} rows in ${fmt(w.lake_files)} files, ` +
                  `expected ${fmt(w.expected_rows)})`
                : ''));
}
console.log(`DuckDB ignore_errors kept ${fmt(dk.valid_kept)} of ${fmt(d.valid)} valid events ` +
            `(lost ${fmt(dk.valid_lost)}), and kept ${fmt(dk.malformed_kept)} malformed lines ` +
            `(wrong-typed values turned into NULL)`);
const load = Math.max(dk.load_average, weirOk ? result.weir.load_average : 0);
if (load > 1.5) console.log(`WARNING: load average ${load} on start: other work shares the CPUs`);
console.log(`result: ${join(out, 'result.json')}`);

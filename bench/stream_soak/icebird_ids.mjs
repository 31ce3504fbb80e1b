// Prints the `id` column of an Iceberg table, one a line, read with the npm package icebird (an
// Iceberg reader independent of weir) over HTTP. The same reading as tests/lake/icebird_read.mjs,
// but streamed as lines instead of one JSON array, so millions of rows fit.
//
//   node icebird_ids.mjs NODE_MODULES_DIR TABLE_URL PREFIX=URL
// PREFIX=URL maps the local paths the metadata names to the HTTP server (see icebird_read.mjs).
import { writeSync } from 'node:fs';

const [nodeModules, tableUrl, mapping] = process.argv.slice(2);
if (mapping) {
  const eq = mapping.indexOf('=');
  const prefix = mapping.slice(0, eq);
  const base = mapping.slice(eq + 1);
  const realFetch = globalThis.fetch;
  globalThis.fetch = (url, init) => {
    const u = String(url);
    return realFetch(u.startsWith(prefix) ? base + u.slice(prefix.length) : url, init);
  };
}
const { icebergRead } = await import(`${nodeModules}/icebird/src/index.js`);
try {
  const rows = await icebergRead({ tableUrl });
  let chunk = [];
  for (const r of rows) {
    chunk.push(String(r.id));
    if (chunk.length === 100000) {
      writeSync(1, chunk.join('\n') + '\n');
      chunk = [];
    }
  }
  if (chunk.length) writeSync(1, chunk.join('\n') + '\n');
} catch (e) {
  process.stderr.write(`icebird_ids: ${e.stack || e}\n`);
  process.exit(1);
}

// Reads an Iceberg table over HTTP with the npm package `icebird` (an Iceberg reader independent
// of weir) and prints its rows as one JSON array on stdout (BigInt values as strings, Dates as
// epoch milliseconds), sorted by nothing: the caller compares sets.
//
// Usage: node icebird_read.mjs NODE_MODULES_DIR TABLE_URL [METADATA_FILE_NAME] [PREFIX=URL]
// Without METADATA_FILE_NAME (or with "") icebird follows metadata/version-hint.text, as
// path-based readers do. PREFIX=URL serves a table whose metadata names local paths (weir's
// tables on local disk): every fetch of a location starting with PREFIX goes to URL + the rest.
const [nodeModules, tableUrl, metadataFileName, mapping] = process.argv.slice(2)
if (mapping) {
  const eq = mapping.indexOf('=')
  const prefix = mapping.slice(0, eq)
  const base = mapping.slice(eq + 1)
  const realFetch = globalThis.fetch
  globalThis.fetch = (url, init) => {
    const u = String(url)
    return realFetch(u.startsWith(prefix) ? base + u.slice(prefix.length) : url, init)
  }
}
const { icebergRead } = await import(`${nodeModules}/icebird/src/index.js`)
try {
  const rows = await icebergRead({ tableUrl, metadataFileName: metadataFileName || undefined })
  // Dates become epoch milliseconds here: JSON.stringify would call Date.toJSON before a replacer.
  const plain = rows.map(r => Object.fromEntries(Object.entries(r).map(([k, v]) =>
    [k, typeof v === 'bigint' ? v.toString() : v instanceof Date ? v.getTime() : v])))
  const out = JSON.stringify(plain)
  process.stdout.write(out + '\n')
} catch (e) {
  process.stderr.write(`icebird_read: ${e.stack || e}\n`)
  process.exit(1)
}

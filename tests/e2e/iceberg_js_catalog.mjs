// Reads weir's Iceberg REST catalog with the npm package `iceberg-js` (a REST catalog client
// independent of weir) and prints what it saw as one JSON object on stdout, for
// tests/e2e/rest_catalog_e2e_test.cc to compare with the store and the metadata files.
//
// Usage: node iceberg_js_catalog.mjs NODE_MODULES_DIR BASE_URL TOKEN NAMESPACE TABLE
// TOKEN may be "" (no authentication). iceberg-js's loadTable() returns the `metadata` object
// only, so the client's fetch is wrapped to also keep the LoadTableResult exactly as the server
// sent it (`raw`): JSON.parse turns 63-bit snapshot ids into doubles, so the exact ids can only be
// compared on the wire text.
const [nodeModules, baseUrl, token, namespace, table] = process.argv.slice(2)
const { IcebergRestCatalog, IcebergError } =
  await import(`${nodeModules}/iceberg-js/dist/index.mjs`)

const bodies = []
const recordingFetch = async (url, init) => {
  const res = await fetch(url, init)
  bodies.push({ url: String(url), method: init?.method, status: res.status, text: await res.clone().text() })
  return res
}

const auth = token ? { type: 'bearer', token } : { type: 'none' }
const catalog = new IcebergRestCatalog({ baseUrl, auth, fetch: recordingFetch })
const ns = { namespace: [namespace] }

async function failure(promise) {
  try {
    await promise
    return { ok: true }
  } catch (e) {
    if (!(e instanceof IcebergError)) throw e
    return { status: e.status, type: e.icebergType, code: e.icebergCode, message: e.message }
  }
}

try {
  const out = {}
  out.namespaces = (await catalog.listNamespaces()).map(n => n.namespace)
  out.namespaceProperties = (await catalog.loadNamespaceMetadata(ns)).properties
  out.namespaceExists = await catalog.namespaceExists(ns)
  out.missingNamespaceExists = await catalog.namespaceExists({ namespace: ['no_such_namespace'] })
  out.tables = await catalog.listTables(ns)
  out.tableExists = await catalog.tableExists({ namespace: [namespace], name: table })
  out.missingTableExists = await catalog.tableExists({ namespace: [namespace], name: 'no_such_table' })
  const metadata = await catalog.loadTable({ namespace: [namespace], name: table })
  const raw = bodies.findLast(b => b.method === 'GET' && b.url.endsWith(`/tables/${table}`))
  out.load = { metadata, metadataLocation: JSON.parse(raw.text)['metadata-location'], raw: raw.text }
  out.missingTable = await failure(catalog.loadTable({ namespace: [namespace], name: 'no_such_table' }))
  out.createNamespace = await failure(catalog.createNamespace({ namespace: ['new_ns'] }))
  out.dropTable = await failure(catalog.dropTable({ namespace: [namespace], name: table }))
  const anonymous = new IcebergRestCatalog({ baseUrl })
  out.anonymous = await failure(anonymous.listNamespaces())
  process.stdout.write(JSON.stringify(out) + '\n')
} catch (e) {
  process.stderr.write(`iceberg_js_catalog: ${e.stack || e}\n`)
  process.exit(1)
}

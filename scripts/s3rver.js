#!/usr/bin/env node
// s3rver, the S3 server weir's tests and benchmarks run on loopback, made read-after-write
// consistent the way S3 is.
//
//   node --openssl-legacy-provider scripts/s3rver.js <s3rver's own arguments>
//
// Why: s3rver 3.7.1 (npm, installed by scripts/install-deps.sh) answers a PutObject or an
// UploadPart once the request body has been handed to its file stream, not once the stream has
// written it, and a GetObject answers with the file's size on disk as Content-Length. A GET that
// follows a PUT closely enough is then a 200 with an empty or cut body: nothing a client can
// tell from a right answer. Under `make test`'s load (tests beside a compiling sanitizer build)
// that turned S3 tests red with wrong bytes (S3Client.ServerErrorsResetsAndStalls... read a cut
// faults/obj-19; S3Files.FsHelpers... read "" for an object it had just written).
//
// What changes: an object, a part and their metadata files are written to a temporary file beside
// them (a name s3rver's listings skip) and renamed over the old one once every byte is written.
// A reader sees the previous version or the whole new one; a PUT the client abandons midway leaves
// nothing behind. Everything else is s3rver's own code, loaded from its package.
//
// WEIR_S3RVER_WRITE_DELAY_MS=<n> holds the first write of each object or part back n ms: a slow
// disk on demand, for the test that keeps this fix honest (S3TestServer.* in
// tests/io/s3_client_test.cc).
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { Readable, Transform, finished } = require('stream');
const { pipeline } = require('stream/promises');

// The temporary files of writeWhole below: `<file>.weir-<pid>-<n>.tmp`.
const TMP = String.raw`\.weir-\d+-\d+\.tmp`;
const TMP_NAME = new RegExp(`${TMP}$`);

const delayMs = Number(process.env.WEIR_S3RVER_WRITE_DELAY_MS || 0);
if (delayMs > 0) {
  // File streams open, write and close through the exported fs functions, looked up at each
  // call. Only the first write to an object's data file or a part's waits (not the metadata
  // files): that opens the window, and an upload of many chunks stays quick.
  const data = new RegExp(String.raw`(\._S3rver_object|\._S3rver_uploads/[^/]+/\d+)(${TMP})?$`);
  const { open, write, close } = fs;
  const slow = new Set();
  fs.open = (file, ...rest) => {
    const done = rest[rest.length - 1];
    if (typeof done !== 'function') return open(file, ...rest);
    open(file, ...rest.slice(0, -1), (err, fd) => {
      if (!err && data.test(String(file))) slow.add(fd);
      done(err, fd);
    });
  };
  fs.write = (fd, ...rest) => {
    if (!slow.delete(fd)) return write(fd, ...rest);
    setTimeout(() => write(fd, ...rest), delayMs);
  };
  fs.close = (fd, ...rest) => {
    slow.delete(fd);
    return close(fd, ...rest);
  };
}

// After the hook above: graceful-fs (under s3rver's fs-extra) keeps the fs functions it finds.
const pkg = path.join(__dirname, '..', 'third_party', 'node', 'node_modules', 's3rver');

// Listings walk the bucket's folders (readdir, then stat each name) while uploads rename their
// temporary files away: a listing skips those names, and a name gone between the readdir and
// its stat (renamed or deleted meanwhile) is not an error (it was a 500), as S3 lists what
// it has at some moment. Replaced before the store is loaded: it takes `walk` at load time.
const utils = require(path.join(pkg, 'lib', 'utils'));
utils.walk = function* walk(dir, recurseFilter) {
  let names = [];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if (err.code === 'ENOENT') return;
    throw err;
  }
  for (const name of names) {
    if (TMP_NAME.test(name)) continue;
    const file = path.posix.join(dir, name);
    let stats;
    try {
      stats = fs.statSync(file);
    } catch (err) {
      if (err.code === 'ENOENT') continue;
      throw err;
    }
    if (!stats.isDirectory()) {
      yield file;
    } else if (!recurseFilter || recurseFilter(file)) {
      yield* walk(file, recurseFilter);
    }
  }
};
const FilesystemStore = require(path.join(pkg, 'lib', 'stores', 'filesystem'));
const S3Object = require(path.join(pkg, 'lib', 'models', 'object'));

let tmpSeq = 0;
const tmpName = file => `${file}.weir-${process.pid}-${++tmpSeq}.tmp`;

// Writes `content` (a Buffer or a readable stream) to `file` and renames it into place once
// written; resolves to [bytes, MD5 hex] of what was written.
async function writeWhole(file, content) {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const tmp = tmpName(file);
  const md5 = crypto.createHash('md5');
  let size = 0;
  const count = new Transform({
    transform(chunk, encoding, done) {
      md5.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  try {
    const source = Buffer.isBuffer(content) ? Readable.from([content]) : content;
    // The request is piped in, not part of the pipeline: a failed write then ends in s3rver's
    // 500, where a pipeline would destroy the request and with it the connection.
    // An error or a client gone before the end (a premature close) fails the write.
    finished(source, err => err && count.destroy(err));
    source.pipe(count);
    await pipeline(count, fs.createWriteStream(tmp));
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  return [size, md5.digest('hex')];
}

FilesystemStore.prototype.putObject = async function putObject(object) {
  const file = this.getResourcePath(object.bucket, object.key, 'object');
  const [size, md5] = await writeWhole(file, object.content);
  await this.putMetadata(object.bucket, object.key, object.metadata, md5);
  return { size, md5 };
};

FilesystemStore.prototype.putMetadata = async function putMetadata(bucket, key, metadata, md5) {
  const kept = {};
  for (const [name, value] of Object.entries(metadata)) {
    if (S3Object.ALLOWED_METADATA.includes(name) || name.startsWith('x-amz-meta-')) {
      kept[name] = value;
    }
  }
  if (md5) await writeWhole(this.getResourcePath(bucket, key, 'object.md5'), Buffer.from(md5));
  await writeWhole(this.getResourcePath(bucket, key, 'metadata.json'),
                   Buffer.from(JSON.stringify(kept, null, 2)));
};

FilesystemStore.prototype.putPart = async function putPart(bucket, uploadId, partNumber, content) {
  const file = path.join(this.getResourcePath(bucket, undefined, 'uploads'), uploadId,
                         String(partNumber));
  const [size, md5] = await writeWhole(file, content);
  await writeWhole(`${file}.md5`, Buffer.from(md5));
  return { size, md5 };
};

// s3rver's command line, as if it had been started directly.
const bin = path.join(pkg, 'bin', 's3rver.js');
process.argv = [process.argv[0], bin, ...process.argv.slice(2)];
require(bin);

#!/usr/bin/env node
// A small Nx remote cache server speaking Nx's self-hosted cache protocol
// (NX_SELF_HOSTED_REMOTE_CACHE_SERVER), for teams without Nx Cloud. Node 20+.
//
// One machine, records in a folder (no dependencies):
//   node tools/cache-server/server.js --dir /mnt/share/nx-cache --port 3000 \
//        --token "$NX_CACHE_TOKEN" [--read-token "$NX_CACHE_READ_TOKEN"] [--max-size 50G]
// Any number of stateless instances on one S3-compatible bucket (needs @aws-sdk/client-s3):
//   NX_CACHE_S3_BUCKET=nx-cache [NX_CACHE_S3_ENDPOINT=https://minio:9000] [NX_CACHE_S3_PREFIX=pydepot/] \
//   node tools/cache-server/server.js --port 3000 --config access.json
// Credentials for S3 come from the AWS SDK's standard chain.
//
// Protocol (Nx's OpenAPI for self-hosted caches), optionally under /ns/<namespace>:
//   GET  /v1/cache/<hash>  200 with the artifact (application/octet-stream), 404 if absent
//   PUT  /v1/cache/<hash>  200 stored; 409 if the hash is already stored (records are immutable)
//   401 (text/plain) without a valid "Authorization: Bearer <token>"; 403 for what the token may not do
// Integrity: every record is stored with its sha256 in one atomic step and
// checked before a byte is served: a damaged record is a miss with a warning
// (and is removed). Uploads are spooled and checked against their declared
// length before they reach the store, so an interrupted upload leaves nothing.
// Trust: tokens and namespaces (access.js); docs/REMOTE-CACHE.md.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const { pipeline } = require('node:stream/promises');
const { loadAccess, scope } = require('./access');
const { DirectoryStore, S3Store } = require('./stores');

function parseSize(text) {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?$/i.exec(String(text).trim());
  if (!m) throw new Error(`--max-size must look like 500M or 50G; got "${text}"`);
  return Math.floor(Number(m[1]) * 1024 ** ' KMGT'.indexOf((m[2] || ' ').toUpperCase()));
}

const FLAGS = {
  '--host': 'host', '--port': 'port', '--dir': 'dir', '--token': 'tokens', '--read-token': 'readTokens',
  '--config': 'configFile', '--max-size': 'maxSize', '--s3-bucket': 's3Bucket', '--s3-prefix': 's3Prefix',
  '--s3-endpoint': 's3Endpoint', '--s3-region': 's3Region',
  '--header-timeout': 'headerTimeout', '--body-timeout': 'bodyTimeout', '--max-connections': 'maxConnections',
};

/**
 * Limits a slow or hostile client meets (docs/REMOTE-CACHE.md, "Limits"):
 * the request line and headers must arrive within headerTimeout; a
 * connection that sends or takes nothing for bodyTimeout is closed (an
 * upload cut that way is the client's 400, and its spool file goes); at
 * most maxConnections sockets at once, the rest refused at accept.
 */
const LIMIT_DEFAULTS = { headerTimeout: 10, bodyTimeout: 30, maxConnections: 64 };

function parseLimit(flag, value, min) {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || String(value).trim() === '') throw new Error(`${flag} must be a number of at least ${min}; got "${value}"`);
  return n;
}

function parseArgs(argv, env) {
  const options = {
    host: env.NX_CACHE_HOST || '127.0.0.1',
    port: Number(env.NX_CACHE_PORT || 3000),
    dir: env.NX_CACHE_DIR,
    tokens: env.NX_CACHE_TOKEN ? [env.NX_CACHE_TOKEN] : [],
    readTokens: env.NX_CACHE_READ_TOKEN ? [env.NX_CACHE_READ_TOKEN] : [],
    configFile: env.NX_CACHE_CONFIG,
    maxSize: env.NX_CACHE_MAX_SIZE,
    s3Bucket: env.NX_CACHE_S3_BUCKET,
    s3Prefix: env.NX_CACHE_S3_PREFIX,
    s3Endpoint: env.NX_CACHE_S3_ENDPOINT,
    s3Region: env.NX_CACHE_S3_REGION || env.AWS_REGION || env.AWS_DEFAULT_REGION,
    headerTimeout: env.NX_CACHE_HEADER_TIMEOUT ?? LIMIT_DEFAULTS.headerTimeout,
    bodyTimeout: env.NX_CACHE_BODY_TIMEOUT ?? LIMIT_DEFAULTS.bodyTimeout,
    maxConnections: env.NX_CACHE_MAX_CONNECTIONS ?? LIMIT_DEFAULTS.maxConnections,
    quiet: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--quiet') {
      options.quiet = true;
      continue;
    }
    const field = FLAGS[flag];
    if (!field) throw new Error(`unknown option ${flag} (options: ${Object.keys(FLAGS).join(' ')} --quiet)`);
    if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
    const value = argv[++i];
    if (Array.isArray(options[field])) options[field].push(value);
    else options[field] = field === 'port' ? Number(value) : value;
  }
  if (options.dir && options.s3Bucket) throw new Error('give --dir (a folder) or --s3-bucket (NX_CACHE_S3_BUCKET), not both');
  if (!options.dir && !options.s3Bucket) throw new Error('--dir (or NX_CACHE_DIR: the folder that stores the artifacts) or --s3-bucket (or NX_CACHE_S3_BUCKET) is required');
  if (options.s3Prefix && !/^[A-Za-z0-9!_.*'()/-]*\/$/.test(options.s3Prefix)) throw new Error(`--s3-prefix (NX_CACHE_S3_PREFIX) must end with "/" and use plain key characters; got "${options.s3Prefix}"`);
  if (options.s3Endpoint && !/^https?:\/\//.test(options.s3Endpoint)) throw new Error(`--s3-endpoint (NX_CACHE_S3_ENDPOINT) must start with http:// or https://; got "${options.s3Endpoint}"`);
  options.headerTimeout = parseLimit('--header-timeout (NX_CACHE_HEADER_TIMEOUT, seconds)', options.headerTimeout, 0.1);
  options.bodyTimeout = parseLimit('--body-timeout (NX_CACHE_BODY_TIMEOUT, seconds)', options.bodyTimeout, 0.1);
  options.maxConnections = parseLimit('--max-connections (NX_CACHE_MAX_CONNECTIONS)', options.maxConnections, 1);
  // A folder is bounded by default; a bucket by its lifecycle rules unless --max-size is given.
  options.maxSize = options.maxSize !== undefined ? parseSize(options.maxSize) : options.dir ? parseSize('50G') : undefined;
  loadAccess({ ...options, env }); // fail at start on a bad token setup
  return options;
}

function openStore(options) {
  if (options.store) return options.store;
  if (options.s3Bucket) {
    return new S3Store({ bucket: options.s3Bucket, prefix: options.s3Prefix, endpoint: options.s3Endpoint, region: options.s3Region, touchAfterMs: options.touchAfterMs });
  }
  return new DirectoryStore(options.dir);
}

/** sha256 and length of bytes [offset, offset + size) of a file. */
async function digestOf(file, offset, size) {
  const hash = crypto.createHash('sha256');
  let length = 0;
  if (size > 0) {
    for await (const chunk of fs.createReadStream(file, { start: offset, end: offset + size - 1 })) {
      hash.update(chunk);
      length += chunk.length;
    }
  }
  return { sha256: hash.digest('hex'), size: length };
}

/**
 * The HTTP server over a store. options: the parsed command line, or for
 * tests { dir | store, tokens, readTokens, configFile, maxSize, quiet }.
 * `server.store.check()` must succeed before it listens (the CLI does this).
 */
function createCacheServer(options) {
  const store = openStore(options);
  const access = loadAccess({ ...options, env: options.env ?? process.env });
  const log = options.quiet ? () => undefined : (line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const warn = (line) => process.stdout.write(`${new Date().toISOString()} WARNING: ${line}\n`);
  const text = (res, status, body) => {
    // Exactly text/plain: Nx calls anything else on a 401 a misconfigured endpoint.
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(`${body}\n`);
  };
  const label = (namespace, hash) => (namespace ? `${namespace}/${hash}` : hash);

  let evicting = false;
  let lastEviction = 0;
  const evict = async () => {
    if (options.maxSize === undefined || evicting) return;
    if (Date.now() - lastEviction < (options.evictEveryMs ?? store.evictEveryMs)) return;
    evicting = true;
    lastEviction = Date.now();
    try {
      const entries = await store.list();
      let total = entries.reduce((sum, e) => sum + e.size, 0);
      if (total <= options.maxSize) return;
      entries.sort((a, b) => a.used - b.used); // least recently used first
      for (const e of entries) {
        if (total <= options.maxSize * 0.9) break;
        await store.remove(e.namespace, e.hash);
        total -= e.size;
        log(`evicted ${label(e.namespace, e.hash)} (${e.size} bytes)`);
      }
    } finally {
      evicting = false;
    }
  };

  /** The first intact record along the lookup order, or undefined (a miss). */
  const find = async (lookups, hash) => {
    for (const namespace of lookups) {
      let entry;
      try {
        entry = await store.open(namespace, hash);
      } catch (error) {
        warn(`reading ${label(namespace, hash)} from ${store.describe()} failed (${error.name}: ${error.message}); answered as a miss`);
        continue;
      }
      if (!entry) continue;
      if (!entry.expected) {
        log(`GET ${label(namespace, hash)}: no checksum (written by another server), served unverified`);
        return { namespace, entry };
      }
      const actual = entry.expected.unreadable ? undefined : entry.actual ?? (await digestOf(entry.path, entry.offset, entry.size));
      if (actual && actual.sha256 === entry.expected.sha256 && actual.size === entry.expected.size) return { namespace, entry };
      await entry.release();
      const what =
        !actual ? 'its header is unreadable'
        : actual.size !== entry.expected.size ? `truncated or padded: ${actual.size} of ${entry.expected.size} bytes`
        : 'its sha256 does not match what was stored';
      warn(`record ${label(namespace, hash)} is damaged (${what}); answered as a miss and removed, so the next build stores it again`);
      await store.remove(namespace, hash).catch((error) => warn(`cannot remove ${label(namespace, hash)}: ${error.message}`));
    }
    return undefined;
  };

  const get = async (res, grant, where, hash) => {
    const found = await find(where.lookups, hash);
    if (!found) {
      log(`GET ${label(where.namespace, hash)} 404 (${grant.name})`);
      return text(res, 404, 'not found');
    }
    const { namespace, entry } = found;
    try {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(entry.size) });
      if (entry.size > 0) await pipeline(fs.createReadStream(entry.path, { start: entry.offset, end: entry.offset + entry.size - 1 }), res);
      else res.end();
      log(`GET ${label(namespace, hash)} 200 ${entry.size} (${grant.name})`);
      store.touch(namespace, hash, entry).catch((error) => warn(`cannot refresh the last use of ${label(namespace, hash)}: ${error.message}`));
    } finally {
      await entry.release();
    }
  };

  const put = async (req, res, grant, where, hash) => {
    const name = label(where.namespace, hash);
    if (!where.writable) {
      req.resume();
      log(`PUT ${name} 403 (${grant.name})`);
      return text(res, 403, grant.write === undefined ? 'this token may only read' : `token "${grant.name}" may not write namespace "${where.namespace || '(root)'}"`);
    }
    if (await store.exists(where.namespace, hash)) {
      req.resume();
      log(`PUT ${name} 409`);
      return text(res, 409, 'Cannot override an existing record');
    }
    const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    if (options.maxSize !== undefined && declared > options.maxSize) {
      req.resume();
      return text(res, 413, `artifact of ${declared} bytes exceeds the cache size ${options.maxSize}`);
    }
    const spool = await store.spool();
    try {
      const hasher = crypto.createHash('sha256');
      let size = 0;
      req.on('data', (chunk) => {
        hasher.update(chunk);
        size += chunk.length;
      });
      const cutShort = () => Object.assign(new Error(`upload cut short: ${size} of ${declared ?? 'unknown'} bytes`), { status: 400 });
      await pipeline(req, fs.createWriteStream(spool.path, { flags: 'r+', start: spool.offset })).catch((error) => {
        // The client went away (mid-body, or right after the last byte, before the spool was closed):
        // its upload, not the server, failed. Only an error of the spool file itself is the server's.
        if (!req.complete || req.destroyed || CLIENT_GONE.has(error.code)) throw cutShort();
        throw error;
      });
      if (!req.complete || (declared !== undefined && size !== declared)) throw cutShort();
      log(`PUT ${name} storing ${size} bytes in ${store.describe()}`);
      const outcome = await store.put(where.namespace, hash, { ...spool, size, sha256: hasher.digest('hex') });
      if (outcome === 'exists') {
        log(`PUT ${name} 409`);
        return text(res, 409, 'Cannot override an existing record');
      }
      log(`PUT ${name} 200 ${size} (${grant.name})`);
      text(res, 200, 'stored');
      evict().catch((error) => warn(`eviction failed: ${error.message}`));
    } finally {
      await fs.promises.rm(spool.path, { force: true });
    }
  };

  const headerMs = (options.headerTimeout ?? LIMIT_DEFAULTS.headerTimeout) * 1000;
  const server = http.createServer({ headersTimeout: headerMs, requestTimeout: 0, connectionsCheckingInterval: Math.min(headerMs, 1000) }, async (req, res) => {
    const url = new URL(req.url || '/', 'http://cache');
    if (req.method === 'GET' && /^(\/ns\/[^/]+)?\/health$/.test(url.pathname)) return text(res, 200, 'ok');
    const m = /^(?:\/ns\/([^/]+))?\/v1\/cache\/([A-Za-z0-9_-]{1,128})$/.exec(url.pathname);
    if (!m) return text(res, 404, 'not found: the API is GET/PUT [/ns/<namespace>]/v1/cache/<hash>');
    const hash = m[2];
    const grant = access.authenticate(req.headers.authorization);
    if (!grant) {
      req.resume();
      log(`${req.method} ${hash} 401`);
      return text(res, 401, 'missing or invalid bearer token: set NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN');
    }
    const where = scope(grant, m[1]);
    if (where.error) {
      req.resume();
      log(`${req.method} ${hash} 403 (${where.error})`);
      return text(res, 403, where.error);
    }
    try {
      if (req.method === 'GET') return await get(res, grant, where, hash);
      if (req.method === 'PUT') return await put(req, res, grant, where, hash);
      return text(res, 405, 'only GET and PUT');
    } catch (error) {
      if (error.status === 400) {
        log(`${req.method} ${label(where.namespace, hash)} 400 ${error.message}`);
        if (!res.headersSent) text(res, 400, error.message);
        return;
      }
      warn(`${req.method} ${label(where.namespace, hash)} 500 ${error.name}: ${error.message}`);
      if (!res.headersSent) text(res, 500, `cache error: ${error.message}`);
      else res.destroy();
    }
  });
  server.maxConnections = options.maxConnections ?? LIMIT_DEFAULTS.maxConnections;
  // Idle sockets (a stalled body, a client that stopped reading) are closed: no connection or spool file is held for long.
  server.setTimeout((options.bodyTimeout ?? LIMIT_DEFAULTS.bodyTimeout) * 1000, (socket) => socket.destroy());
  server.on('drop', (data) => log(`connection from ${data?.remoteAddress ?? 'a client'} refused: ${server.maxConnections} connections open (--max-connections)`));
  server.store = store;
  return server;
}

/** Stream errors that mean the client closed its end. */
const CLIENT_GONE = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'ECONNABORTED']);

module.exports = { createCacheServer, parseArgs, parseSize };

if (require.main === module) {
  (async () => {
    let options;
    let server;
    try {
      options = parseArgs(process.argv.slice(2), process.env);
      server = createCacheServer(options);
      await server.store.check();
    } catch (error) {
      process.stderr.write(`pydepot cache server: ${error.message}\n`);
      process.exit(2);
    }
    server.listen(options.port, options.host, () => {
      const { port } = server.address();
      const limit = options.maxSize === undefined ? 'no size limit: lifecycle rules evict' : `max ${options.maxSize} bytes`;
      process.stdout.write(`pydepot cache server listening on http://${options.host}:${port} (store ${server.store.describe()}, ${limit})\n`);
    });
    for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
  })();
}

#!/usr/bin/env node
// A small Nx remote cache server speaking Nx's self-hosted cache protocol
// (NX_SELF_HOSTED_REMOTE_CACHE_SERVER), for teams without Nx Cloud. Plain
// Node, no dependencies: copy this file anywhere Node 20 runs.
//
//   node tools/cache-server/server.js --dir /mnt/share/nx-cache --port 3000 \
//        --token "$NX_CACHE_TOKEN" [--read-token "$NX_CACHE_READ_TOKEN"] [--max-size 50G]
//
// Protocol (Nx's OpenAPI for self-hosted caches):
//   GET  /v1/cache/<hash>  200 with the artifact (application/octet-stream), 404 if absent
//   PUT  /v1/cache/<hash>  200 stored; 409 if the hash is already stored (records are immutable)
//   401 (text/plain) without a valid "Authorization: Bearer <token>"; 403 for a PUT with the read-only token
// Storage: one file per hash under --dir (a local disk or a network share),
// written to a temp file and renamed in, so a reader never sees half an
// artifact and a crash leaves no partial record. When the store exceeds
// --max-size, the least recently used artifacts are evicted (a GET refreshes).
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { pipeline } = require('node:stream/promises');

function parseSize(text) {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?$/i.exec(String(text).trim());
  if (!m) throw new Error(`--max-size must look like 500M or 50G; got "${text}"`);
  return Math.floor(Number(m[1]) * 1024 ** ' KMGT'.indexOf((m[2] || ' ').toUpperCase()));
}

function parseArgs(argv, env) {
  const options = {
    host: env.NX_CACHE_HOST || '127.0.0.1',
    port: Number(env.NX_CACHE_PORT || 3000),
    dir: env.NX_CACHE_DIR,
    tokens: env.NX_CACHE_TOKEN ? [env.NX_CACHE_TOKEN] : [],
    readTokens: env.NX_CACHE_READ_TOKEN ? [env.NX_CACHE_READ_TOKEN] : [],
    maxSize: parseSize(env.NX_CACHE_MAX_SIZE || '50G'),
    quiet: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++i];
    };
    if (flag === '--host') options.host = value();
    else if (flag === '--port') options.port = Number(value());
    else if (flag === '--dir') options.dir = value();
    else if (flag === '--token') options.tokens.push(value());
    else if (flag === '--read-token') options.readTokens.push(value());
    else if (flag === '--max-size') options.maxSize = parseSize(value());
    else if (flag === '--quiet') options.quiet = true;
    else throw new Error(`unknown option ${flag} (options: --host --port --dir --token --read-token --max-size --quiet)`);
  }
  if (!options.dir) throw new Error('--dir (or NX_CACHE_DIR) is required: the folder that stores the artifacts');
  if (options.tokens.length === 0) throw new Error('--token (or NX_CACHE_TOKEN) is required: clients send it as NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN');
  return options;
}

function createCacheServer(options) {
  const dir = path.resolve(options.dir);
  const store = path.join(dir, 'v1');
  const tmpDir = path.join(dir, 'tmp');
  fs.mkdirSync(store, { recursive: true });
  fs.mkdirSync(tmpDir, { recursive: true });
  // Temp files of a server that died mid-upload.
  for (const name of fs.readdirSync(tmpDir)) fs.rmSync(path.join(tmpDir, name), { force: true });
  const log = options.quiet ? () => undefined : (line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const safeEqual = (a, b) => a.length === b.length && crypto.timingSafeEqual(Buffer.from(a), Buffer.from(b));
  const access = (req) => {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization || '');
    if (!m) return 'none';
    if (options.tokens.some((t) => safeEqual(t, m[1]))) return 'write';
    if (options.readTokens.some((t) => safeEqual(t, m[1]))) return 'read';
    return 'none';
  };
  const text = (res, status, body) => {
    // Exactly text/plain: Nx calls anything else on a 401 a misconfigured endpoint.
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(`${body}\n`);
  };
  let evicting = false;
  const evict = async () => {
    if (evicting) return;
    evicting = true;
    try {
      const entries = [];
      let total = 0;
      for (const name of await fs.promises.readdir(store)) {
        const st = await fs.promises.stat(path.join(store, name)).catch(() => undefined);
        if (!st) continue;
        entries.push({ name, size: st.size, used: st.mtimeMs });
        total += st.size;
      }
      if (total <= options.maxSize) return;
      entries.sort((a, b) => a.used - b.used);
      for (const e of entries) {
        if (total <= options.maxSize * 0.9) break;
        await fs.promises.rm(path.join(store, e.name), { force: true });
        total -= e.size;
        log(`evicted ${e.name} (${e.size} bytes)`);
      }
    } finally {
      evicting = false;
    }
  };

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url || '/', 'http://cache');
    if (req.method === 'GET' && url.pathname === '/health') return text(res, 200, 'ok');
    const m = /^\/v1\/cache\/([A-Za-z0-9_-]{1,128})$/.exec(url.pathname);
    if (!m) return text(res, 404, 'not found: the API is GET/PUT /v1/cache/<hash>');
    const hash = m[1];
    const level = access(req);
    if (level === 'none') {
      log(`${req.method} ${hash} 401`);
      return text(res, 401, 'missing or invalid bearer token: set NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN');
    }
    const file = path.join(store, hash);
    try {
      if (req.method === 'GET') {
        const st = await fs.promises.stat(file).catch(() => undefined);
        if (!st) {
          log(`GET ${hash} 404`);
          return text(res, 404, 'not found');
        }
        const now = new Date();
        fs.promises.utimes(file, now, now).catch(() => undefined); // least recently used goes first
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(st.size) });
        await pipeline(fs.createReadStream(file), res);
        log(`GET ${hash} 200 ${st.size}`);
        return;
      }
      if (req.method === 'PUT') {
        if (level !== 'write') return text(res, 403, 'this token may only read');
        if (fs.existsSync(file)) {
          req.resume();
          log(`PUT ${hash} 409`);
          return text(res, 409, 'Cannot override an existing record');
        }
        const declared = Number(req.headers['content-length'] || 0);
        if (declared > options.maxSize) {
          req.resume();
          return text(res, 413, `artifact of ${declared} bytes exceeds the cache size ${options.maxSize}`);
        }
        const tmp = path.join(tmpDir, `${hash}.${process.pid}.${crypto.randomBytes(4).toString('hex')}`);
        try {
          await pipeline(req, fs.createWriteStream(tmp, { flags: 'wx' }));
          const size = (await fs.promises.stat(tmp)).size;
          if (declared && size !== declared) throw new Error(`upload cut short: ${size} of ${declared} bytes`);
          // link, not rename: of two concurrent uploads of one hash, exactly one wins and the other gets 409.
          await fs.promises.link(tmp, file).catch((error) => {
            if (error.code === 'EEXIST') throw Object.assign(new Error('exists'), { status: 409 });
            if (error.code === 'EPERM' || error.code === 'ENOTSUP' || error.code === 'EXDEV') return fs.promises.rename(tmp, file);
            throw error;
          });
          log(`PUT ${hash} 200 ${size}`);
          text(res, 200, 'stored');
          evict().catch((error) => log(`eviction failed: ${error.message}`));
        } finally {
          await fs.promises.rm(tmp, { force: true });
        }
        return;
      }
      return text(res, 405, 'only GET and PUT');
    } catch (error) {
      if (error.status === 409) return text(res, 409, 'Cannot override an existing record');
      log(`${req.method} ${hash} 500 ${error.message}`);
      if (!res.headersSent) text(res, 500, `cache error: ${error.message}`);
      else res.destroy();
    }
  });
  return server;
}

module.exports = { createCacheServer, parseArgs, parseSize };

if (require.main === module) {
  let options;
  try {
    options = parseArgs(process.argv.slice(2), process.env);
  } catch (error) {
    process.stderr.write(`pydepot cache server: ${error.message}\n`);
    process.exit(2);
  }
  const server = createCacheServer(options);
  server.listen(options.port, options.host, () => {
    const { port } = server.address();
    process.stdout.write(`pydepot cache server listening on http://${options.host}:${port} (store ${path.resolve(options.dir)}, max ${options.maxSize} bytes)\n`);
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
}

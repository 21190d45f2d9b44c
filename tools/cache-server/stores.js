// Where the cache server keeps its records. Two stores behind one small
// interface, so the HTTP layer (auth, namespaces, integrity, eviction) is
// the same for both:
//   DirectoryStore  a folder on one machine (local disk or network share)
//   S3Store         an S3-compatible bucket: stateless, so any number of
//                   server instances serve one bucket
// Every record carries the sha256 and size of its bytes, written in the same
// atomic step as the bytes (a header in the directory store, object metadata
// in S3: x-amz-meta-sha256 and -size), so a reader can tell a damaged record from a good one.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { pipeline } = require('node:stream/promises');

const HASH = /^[A-Za-z0-9_-]{1,128}$/;

/** Create an empty spool file (mode 0600: artifacts may hold anything). */
async function createSpool(dir, offset = 0) {
  const file = path.join(dir, `${process.pid}-${crypto.randomBytes(6).toString('hex')}`);
  const handle = await fs.promises.open(file, 'wx', 0o600);
  if (offset) await handle.write(Buffer.alloc(offset, 0x20), 0, offset, 0);
  await handle.close();
  return { path: file, offset };
}

// --- directory ---------------------------------------------------------------

// Layout v2: <dir>/v2/<namespace or _root>/<hash>, each file a fixed-size
// header ("PYDEPOT-CACHE-2 <sha256> <size>\n") and the artifact's bytes.
// (v1 kept bare files without a checksum; a v1 folder is ignored.)
const MAGIC = 'PYDEPOT-CACHE-2';
const HEADER_LENGTH = MAGIC.length + 1 + 64 + 1 + 16 + 1;
const ROOT_DIR = '_root'; // never a namespace: those start with [a-z0-9]

class DirectoryStore {
  constructor(dir) {
    this.dir = path.resolve(dir);
    this.store = path.join(this.dir, 'v2');
    this.tmp = path.join(this.dir, 'tmp');
    this.evictEveryMs = 0; // a folder listing is cheap: check the size after every upload
  }

  describe() {
    return `directory ${this.dir}`;
  }

  async check() {
    await fs.promises.mkdir(this.store, { recursive: true });
    await fs.promises.mkdir(this.tmp, { recursive: true });
    // Spool files of a server that died mid-upload (one server per folder).
    for (const name of await fs.promises.readdir(this.tmp)) await fs.promises.rm(path.join(this.tmp, name), { force: true });
  }

  file(namespace, hash) {
    return path.join(this.store, namespace || ROOT_DIR, hash);
  }

  spool() {
    return createSpool(this.tmp, HEADER_LENGTH);
  }

  async exists(namespace, hash) {
    return fs.existsSync(this.file(namespace, hash));
  }

  async put(namespace, hash, spool) {
    const header = `${MAGIC} ${spool.sha256} ${String(spool.size).padStart(16, '0')}\n`;
    const handle = await fs.promises.open(spool.path, 'r+');
    try {
      await handle.write(header, 0, 'ascii');
      await handle.sync();
    } finally {
      await handle.close();
    }
    const target = this.file(namespace, hash);
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    // link, not rename: of two concurrent uploads of one hash, exactly one wins.
    try {
      await fs.promises.link(spool.path, target);
    } catch (error) {
      if (error.code === 'EEXIST') return 'exists';
      if (!['EPERM', 'ENOTSUP', 'EXDEV', 'ENOSYS'].includes(error.code)) throw error;
      if (fs.existsSync(target)) return 'exists'; // a share without hard links: rename, checked first
      await fs.promises.rename(spool.path, target);
    }
    return 'stored';
  }

  async open(namespace, hash) {
    const file = this.file(namespace, hash);
    let handle;
    try {
      handle = await fs.promises.open(file, 'r');
    } catch (error) {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      const { size } = await handle.stat();
      const head = Buffer.alloc(HEADER_LENGTH);
      const { bytesRead } = await handle.read(head, 0, HEADER_LENGTH, 0);
      const m = new RegExp(`^${MAGIC} ([0-9a-f]{64}) (\\d{16})\\n$`).exec(head.subarray(0, bytesRead).toString('latin1'));
      return { path: file, offset: HEADER_LENGTH, size: Math.max(0, size - HEADER_LENGTH), expected: m ? { sha256: m[1], size: Number(m[2]) } : { unreadable: true }, release: async () => undefined };
    } finally {
      await handle.close();
    }
  }

  async touch(namespace, hash) {
    const now = new Date();
    await fs.promises.utimes(this.file(namespace, hash), now, now).catch(() => undefined);
  }

  async remove(namespace, hash) {
    await fs.promises.rm(this.file(namespace, hash), { force: true });
  }

  async list() {
    const entries = [];
    for (const ns of await fs.promises.readdir(this.store).catch(() => [])) {
      const folder = path.join(this.store, ns);
      for (const hash of await fs.promises.readdir(folder).catch(() => [])) {
        const st = await fs.promises.stat(path.join(folder, hash)).catch(() => undefined);
        if (st?.isFile()) entries.push({ namespace: ns === ROOT_DIR ? '' : ns, hash, size: st.size, used: st.mtimeMs });
      }
    }
    return entries;
  }
}

// --- S3 ----------------------------------------------------------------------

// Layout: <prefix><namespace>/<hash>, or <prefix><hash> for the root
// namespace: the layout of servers without namespaces, so another server of
// the protocol can serve the same bucket. Metadata: sha256 (x-amz-meta-sha256).
class S3Store {
  /**
   * options: bucket, prefix, endpoint, region, forcePathStyle, spoolDir,
   * touchAfterMs (a read refreshes an object's LastModified when it is older:
   * lifecycle rules and --max-size then evict by last use, not by age).
   */
  constructor(options) {
    // The pinned SDK supports Node 20; its notice is about later releases.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.sdk = require('@aws-sdk/client-s3');
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
    this.endpoint = options.endpoint;
    this.touchAfterMs = options.touchAfterMs ?? 24 * 3600_000;
    this.spoolDir = options.spoolDir ?? path.join(os.tmpdir(), `pydepot-cache-spool-${process.pid}`);
    this.conditionalWrites = true;
    this.evictEveryMs = 60_000; // a bucket listing is costly and every instance does it: at most once a minute
    this.client = new this.sdk.S3Client({
      region: options.region || 'us-east-1',
      endpoint: options.endpoint || undefined,
      forcePathStyle: options.forcePathStyle ?? Boolean(options.endpoint),
      // Credentials: the SDK's standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
      // AWS_PROFILE, web identity, container and instance roles).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
      // "Expect: 100-continue" waits up to 6 s for stores that never answer it (SeaweedFS);
      // the HEAD before each upload already spares sending a body that would be refused.
      expectContinueHeader: false,
    });
  }

  describe() {
    return `s3://${this.bucket}/${this.prefix}${this.endpoint ? ` at ${this.endpoint}` : ''}`;
  }

  /** Fail at start, with what to check, rather than on the first build. */
  async check() {
    try {
      await this.client.send(new this.sdk.HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      const status = error.$metadata?.httpStatusCode;
      const why =
        status === 404 ? 'the bucket does not exist: create it (or check NX_CACHE_S3_BUCKET)'
        : status === 403 || status === 401 ? 'access denied: check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the instance role) and the bucket policy'
        : `${error.name}: ${error.message} (check NX_CACHE_S3_ENDPOINT and NX_CACHE_S3_REGION)`;
      throw new Error(`cannot use ${this.describe()}: ${why}`);
    }
    await fs.promises.mkdir(this.spoolDir, { recursive: true, mode: 0o700 });
    // Spool folders of servers on this machine that were killed.
    const parent = path.dirname(this.spoolDir);
    for (const name of await fs.promises.readdir(parent).catch(() => [])) {
      const m = /^pydepot-cache-spool-(\d+)$/.exec(name);
      if (!m || Number(m[1]) === process.pid) continue;
      try {
        process.kill(Number(m[1]), 0);
      } catch (error) {
        if (error.code === 'ESRCH') await fs.promises.rm(path.join(parent, name), { recursive: true, force: true });
      }
    }
  }

  key(namespace, hash) {
    return `${this.prefix}${namespace ? `${namespace}/` : ''}${hash}`;
  }

  spool() {
    return createSpool(this.spoolDir);
  }

  async exists(namespace, hash) {
    try {
      await this.client.send(new this.sdk.HeadObjectCommand({ Bucket: this.bucket, Key: this.key(namespace, hash) }));
      return true;
    } catch (error) {
      if (error.$metadata?.httpStatusCode === 404) return false;
      throw error;
    }
  }

  async put(namespace, hash, spool) {
    const send = (conditional) =>
      this.client.send(
        new this.sdk.PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key(namespace, hash),
          // One PUT: S3 makes an object visible only when all its bytes arrived, so an
          // upload cut short (a killed server, a dropped connection) leaves nothing.
          Body: fs.createReadStream(spool.path, { start: spool.offset ?? 0 }),
          ContentLength: spool.size,
          ContentType: 'application/octet-stream',
          Metadata: { sha256: spool.sha256, size: String(spool.size) },
          ...(conditional ? { IfNoneMatch: '*' } : {}),
        }),
      );
    try {
      await send(this.conditionalWrites);
    } catch (error) {
      const status = error.$metadata?.httpStatusCode;
      if (status === 412 || status === 409) return 'exists'; // another instance stored it first
      if (this.conditionalWrites && (status === 501 || error.name === 'NotImplemented')) {
        // A store without conditional writes: the HEAD before the upload is the guard.
        this.conditionalWrites = false;
        await send(false);
        return 'stored';
      }
      throw error;
    }
    return 'stored';
  }

  async open(namespace, hash) {
    let response;
    try {
      response = await this.client.send(new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.key(namespace, hash) }));
    } catch (error) {
      if (error.$metadata?.httpStatusCode === 404) return undefined;
      throw error;
    }
    // Spooled before a byte goes to the client: a damaged object must become a miss,
    // and after a 200 has gone out it could only be a failed download.
    const spool = await this.spool();
    const hasher = crypto.createHash('sha256');
    let size = 0;
    try {
      await pipeline(
        response.Body,
        async function* digest(chunks) {
          for await (const chunk of chunks) {
            hasher.update(chunk);
            size += chunk.length;
            yield chunk;
          }
        },
        fs.createWriteStream(spool.path, { flags: 'r+' }),
      );
    } catch (error) {
      await fs.promises.rm(spool.path, { force: true });
      throw error;
    }
    const { sha256, size: stored } = response.Metadata ?? {};
    const modified = response.LastModified?.getTime() ?? Date.now();
    return {
      path: spool.path,
      offset: 0,
      size,
      // Objects written by another server of the protocol carry no checksum: S3's own
      // length check is all there is (served, logged as unverified).
      expected: sha256 ? { sha256, size: Number(stored ?? response.ContentLength ?? size) } : undefined,
      actual: { sha256: hasher.digest('hex'), size }, // hashed on the way in: the server need not read it again
      stale: Date.now() - modified > this.touchAfterMs,
      release: () => fs.promises.rm(spool.path, { force: true }),
    };
  }

  async touch(namespace, hash, entry) {
    if (entry && !entry.stale) return;
    const key = this.key(namespace, hash);
    const copySource = `${this.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
    await this.client.send(
      new this.sdk.CopyObjectCommand({
        Bucket: this.bucket,
        Key: key,
        CopySource: copySource,
        MetadataDirective: 'REPLACE',
        ContentType: 'application/octet-stream',
        Metadata: entry?.expected ? { sha256: entry.expected.sha256, size: String(entry.expected.size) } : undefined,
      }),
    );
  }

  async remove(namespace, hash) {
    await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(namespace, hash) }));
  }

  async list() {
    const entries = [];
    let token;
    do {
      const page = await this.client.send(new this.sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix || undefined, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        const rest = o.Key.slice(this.prefix.length).split('/');
        const [namespace, hash] = rest.length === 1 ? ['', rest[0]] : rest;
        if (rest.length > 2 || !HASH.test(hash)) continue;
        entries.push({ namespace, hash, size: o.Size ?? 0, used: o.LastModified?.getTime() ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return entries;
  }
}

module.exports = { DirectoryStore, S3Store, HEADER_LENGTH };

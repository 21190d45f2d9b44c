// Who may read and write what: bearer tokens, each with a trust level
// expressed as namespaces. A namespace is a separate set of records (a key
// prefix in the store); a token writes at most one namespace pattern and
// reads an ordered list. The point is cache poisoning (CVE-2025-36852,
// "CREEP"): a record written by an untrusted build (a pull request) must
// never be what a trusted build (main) restores. Main's token reads only
// what main's token wrote; a pull-request token writes its own namespace
// and reads main's as a fallback, never the other way round.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');

const NAMESPACE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}\*?$|^\*$/;

function sha256(text) {
  return crypto.createHash('sha256').update(text).digest('hex');
}

function matches(pattern, namespace) {
  return pattern.endsWith('*') ? namespace.startsWith(pattern.slice(0, -1)) && namespace !== '' : pattern === namespace;
}

/**
 * Check a grant from the config file; every message names the entry and the
 * field. `""` is the root namespace (the store's top level, the layout of
 * servers without namespaces).
 */
function checkGrant(entry, where, env) {
  if (!entry || typeof entry !== 'object' || Array.isArray(entry)) throw new Error(`${where} must be an object like {"name": "ci-main", "tokenEnv": "NX_CACHE_TOKEN_MAIN", "write": "main", "read": ["main"]}`);
  const known = ['name', 'tokenEnv', 'sha256', 'write', 'read'];
  for (const key of Object.keys(entry)) if (!known.includes(key)) throw new Error(`${where}: unknown field "${key}" (fields: ${known.join(', ')})`);
  const name = typeof entry.name === 'string' && entry.name ? entry.name : where;
  let digest;
  if (entry.tokenEnv !== undefined) {
    if (entry.sha256 !== undefined) throw new Error(`${where} ("${name}"): give "tokenEnv" or "sha256", not both`);
    const token = env[entry.tokenEnv];
    if (!token) throw new Error(`${where} ("${name}"): environment variable ${entry.tokenEnv} (its "tokenEnv") is not set`);
    digest = sha256(token);
  } else if (typeof entry.sha256 === 'string' && /^[0-9a-f]{64}$/.test(entry.sha256)) {
    digest = entry.sha256;
  } else {
    throw new Error(`${where} ("${name}"): needs "tokenEnv" (the variable holding the token) or "sha256" (64 lowercase hex digits: printf %s "$TOKEN" | sha256sum)`);
  }
  const patternOf = (value, field) => {
    if (value === '') return '';
    if (typeof value !== 'string' || !PATTERN.test(value)) throw new Error(`${where} ("${name}"): "${field}" entries must be "" (the root), a namespace like "main" or a pattern like "pr-*" (lowercase letters, digits, . _ -); got ${JSON.stringify(value)}`);
    return value;
  };
  const write = entry.write === undefined ? undefined : patternOf(entry.write, 'write');
  if (!Array.isArray(entry.read) || entry.read.length === 0) throw new Error(`${where} ("${name}"): "read" must be a non-empty list of namespaces, in the order they are looked up`);
  const read = entry.read.map((r) => patternOf(r, 'read'));
  if (write !== undefined && !read.some((r) => matches(r, write))) {
    throw new Error(`${where} ("${name}"): "read" must include what it writes ("${write}"), or its own records would be invisible to it`);
  }
  return { name, digest, write, read };
}

/**
 * Build the access policy from the simple flags (--token: read-write root,
 * --read-token: read-only root) and an optional JSON config file:
 *   {"tokens": [{"name", "tokenEnv" | "sha256", "write"?, "read": [...]}]}
 */
function loadAccess({ tokens = [], readTokens = [], configFile, env = process.env }) {
  const grants = [
    ...tokens.map((t, i) => ({ name: `--token #${i + 1}`, digest: sha256(t), write: '', read: [''] })),
    ...readTokens.map((t, i) => ({ name: `--read-token #${i + 1}`, digest: sha256(t), write: undefined, read: [''] })),
  ];
  if (configFile) {
    let config;
    try {
      config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    } catch (error) {
      throw new Error(`cannot read the access config ${configFile}: ${error.message}`);
    }
    if (!config || !Array.isArray(config.tokens)) throw new Error(`${configFile}: needs a "tokens" list (docs/REMOTE-CACHE.md, "Trust levels")`);
    config.tokens.forEach((entry, i) => grants.push(checkGrant(entry, `${configFile}: tokens[${i}]`, env)));
  }
  if (grants.length === 0) throw new Error('--token (or NX_CACHE_TOKEN) or --config with a "tokens" list is required: clients send a token as NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN');
  const seen = new Map();
  for (const g of grants) {
    if (seen.has(g.digest)) throw new Error(`the same token is given twice (${seen.get(g.digest)} and ${g.name}): each token has one trust level`);
    seen.set(g.digest, g.name);
  }
  return {
    grants,
    /** The grant of an "Authorization: Bearer <token>" header, or undefined. */
    authenticate(header) {
      const m = /^Bearer (.+)$/.exec(header || '');
      if (!m) return undefined;
      const digest = Buffer.from(sha256(m[1]), 'hex');
      return grants.find((g) => crypto.timingSafeEqual(Buffer.from(g.digest, 'hex'), digest));
    },
  };
}

/**
 * What a grant may do in the namespace a request names (the URL's
 * /ns/<name>/ part, or none): where a GET looks, in order, and whether a PUT
 * is allowed. Without a namespace in the URL, a token works in its home: what
 * it writes, else the first namespace it reads.
 */
function scope(grant, requested) {
  const literal = (p) => !p.endsWith('*');
  const home = grant.write !== undefined && literal(grant.write) ? grant.write : grant.read.find(literal) ?? '';
  const namespace = requested ?? home;
  if (requested !== undefined && !NAMESPACE.test(requested)) return { error: `namespace "${requested}" is not a valid name (lowercase letters, digits, . _ -)` };
  if (!grant.read.some((p) => matches(p, namespace))) return { error: `token "${grant.name}" may not read namespace "${namespace || '(root)'}"` };
  const lookups = [namespace, ...grant.read.filter((p) => literal(p) && p !== namespace)];
  return { namespace, lookups, writable: grant.write !== undefined && matches(grant.write, namespace) };
}

module.exports = { loadAccess, scope, sha256 };

#!/usr/bin/env node
// Nx runtime input: prints what identifies the Python a runtime (and the
// environments on it) is built from: source, version, host platform and a
// content fingerprint, never the interpreter's install path, so a different
// interpreter or host OS never restores another's build, and agents whose
// CPython lives in different places share the cache.
//   python-identity.js --runtime <base64url JSON request>   (runtime projects)
//   python-identity.js <environment.json>                   (hand-configured stages)
require('./register');
const [flag, value] = process.argv.slice(2);
if (flag === '--runtime') {
  const { runtimeIdentity } = require('../../core/src/pipeline/runtime');
  let request;
  try {
    request = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    request = { python: 'unreadable', includeStdlibTests: false };
  }
  process.stdout.write(`${runtimeIdentity(request, process.cwd())}\n`);
} else {
  const { distributionIdentity } = require('../../core/src/distribution');
  process.stdout.write(`${distributionIdentity(flag)}\n`);
}

#!/usr/bin/env node
// Nx runtime input: prints what identifies the Python an environment is built
// from (source, version, platform, binary fingerprint), so a different
// interpreter or host OS never restores another's build from the cache.
require('./register');
const { distributionIdentity } = require('../../core/src/distribution');
process.stdout.write(`${distributionIdentity(process.argv[2])}\n`);

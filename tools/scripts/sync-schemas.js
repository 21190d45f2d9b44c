#!/usr/bin/env node
// Executor schemas that mirror the environment spec are generated from it:
// environment.schema.json is the source of truth for publisher settings
// (its "publish" object) and the installer choice. Run after changing the
// spec schema:   node tools/scripts/sync-schemas.js
// `--check` exits 1 (listing the files) when a schema is out of date; the
// unit test libs/core/src/model/registry.spec.ts runs the same check.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const SPEC = path.join(ROOT, 'libs/core/src/model/environment.schema.json');
const EXECUTORS = path.join(ROOT, 'libs/nx-plugin/src/executors');

/** Which spec fields each executor schema mirrors, and under which option name. */
const MIRRORS = {
  // Publisher settings: every field of the spec's "publish" but "depot" (each executor words its own).
  publish: { from: 'publish', rename: {} },
  verify: { from: 'publish', rename: {} },
  // rollback's own "to" is the version; the publisher is "publisher".
  rollback: { from: 'publish', rename: { to: 'publisher' } },
  install: { from: 'installer' },
  // The platform a target builds, publishes or checks (set by the inference plugin): the spec's "platforms" items.
  runtime: { from: 'platform' },
  venv: { from: 'platform' },
  'install#platform': { from: 'platform', executor: 'install' },
  'publish#platform': { from: 'platform', executor: 'publish' },
  'verify#platform': { from: 'platform', executor: 'verify' },
  'rollback#platform': { from: 'platform', executor: 'rollback' },
  'lock#platform': { from: 'platform', executor: 'lock' },
  'wheelhouse#platform': { from: 'platform', executor: 'wheelhouse' },
};
const OWN = new Set(['depot']);
/**
 * The executor of the inferred stage chain (libs/nx-plugin/src/executors/stage): one executor name, so Nx runs an
 * environment's venv, install and publish in one batch process. Its schema is the union of theirs, generated here:
 * the option "stage" picks one, and the executor checks the rest against that stage's own schema.
 */
const STAGES = ['venv', 'install', 'publish'];

function expected(spec, mirror) {
  if (mirror.from === 'platform') return { platform: { ...spec.properties.platforms.items, description: 'The platform this target builds, publishes or checks (set by the inference plugin for each of the spec\'s "platforms"; default: the build agent\'s). Windows stages live under <buildDir>/windows and publish to <depot>/windows.' } };
  if (mirror.from === 'installer') return { installer: { ...spec.properties.installer, default: 'pip', description: 'The installer when the spec sets none (the spec\'s "installer" wins): ' + spec.properties.installer.description } };
  const out = {};
  for (const [key, value] of Object.entries(spec.properties.publish.properties)) {
    if (OWN.has(key)) continue;
    const name = mirror.rename[key] ?? key;
    out[name] = { ...value, description: `${value.description} The spec's "publish.${key}" wins over this option.` };
  }
  return out;
}

function sync(check) {
  const spec = JSON.parse(fs.readFileSync(SPEC, 'utf8'));
  const stale = [];
  for (const [executor, mirror] of Object.entries(MIRRORS)) {
    const file = path.join(EXECUTORS, mirror.executor ?? executor, 'schema.json');
    const schema = JSON.parse(fs.readFileSync(file, 'utf8'));
    const want = expected(spec, mirror);
    const next = { ...schema, properties: { ...schema.properties } };
    for (const [name, value] of Object.entries(want)) next.properties[name] = value;
    const text = `${JSON.stringify(next, null, 2)}\n`;
    if (text !== fs.readFileSync(file, 'utf8')) {
      stale.push(path.relative(ROOT, file));
      if (!check) fs.writeFileSync(file, text);
    }
  }
  const file = path.join(EXECUTORS, 'stage', 'schema.json');
  const text = `${JSON.stringify(stageSchema(), null, 2)}\n`;
  if (!fs.existsSync(file) || text !== fs.readFileSync(file, 'utf8')) {
    stale.push(path.relative(ROOT, file));
    if (!check) fs.writeFileSync(file, text);
  }
  return stale;
}

/** The union of the stage executors' options (as just synced), without their defaults: each stage applies its own. */
function stageSchema() {
  const byName = new Map();
  for (const stage of STAGES) {
    const schema = JSON.parse(fs.readFileSync(path.join(EXECUTORS, stage, 'schema.json'), 'utf8'));
    for (const [name, value] of Object.entries(schema.properties)) {
      const { default: _default, description, ...rest } = value;
      const entry = byName.get(name) ?? { rest, descriptions: new Map() };
      if (JSON.stringify(entry.rest) !== JSON.stringify(rest)) throw new Error(`option "${name}" has another type in the ${stage} executor's schema than in an earlier stage's`);
      entry.descriptions.set(description, [...(entry.descriptions.get(description) ?? []), stage]);
      byName.set(name, entry);
    }
  }
  const properties = {
    stage: { type: 'string', enum: STAGES, description: 'The stage this target runs: "venv", "install" or "publish" (set by the inference plugin). Every other option is that stage executor\'s own.' },
  };
  for (const [name, { rest, descriptions }] of byName) {
    const description = [...descriptions].map(([text, stages]) => (stages.length === STAGES.length ? text : `${stages.join(', ')}: ${text}`)).join(' ');
    properties[name] = { ...rest, description };
  }
  return {
    $schema: 'https://json-schema.org/schema',
    version: 2,
    title: 'stage',
    description:
      'An inferred environment\'s venv, install or publish stage (option "stage"), as the executor of that name runs it. One executor for the three, so that Nx runs a chain in one batch process instead of a Node process per stage. Generated by tools/scripts/sync-schemas.js from the three executors\' schemas.',
    type: 'object',
    properties,
    required: ['stage'],
    additionalProperties: false,
  };
}

module.exports = { sync, MIRRORS, STAGES };

if (require.main === module) {
  const check = process.argv.includes('--check');
  const stale = sync(check);
  if (check && stale.length) {
    console.error(`out of date (run node tools/scripts/sync-schemas.js): ${stale.join(', ')}`);
    process.exit(1);
  }
  if (!check) console.log(stale.length ? `updated ${stale.join(', ')}` : 'executor schemas are up to date');
}

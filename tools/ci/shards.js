#!/usr/bin/env node
// Spread the projects of `nx show projects --affected --with-target=publish --json`
// over CI agents (docs/REMOTE-CACHE.md, "Spreading the work over agents").
//
//   nx show projects ... --json | node tools/ci/shards.js --total 4
//       a JSON list of up to 4 comma-separated project lists, one per agent
//       (a GitHub Actions matrix: fromJSON of it; no entry when nothing is affected)
//   nx show projects ... --json | node tools/ci/shards.js --total 4 --index 2
//       the comma-separated projects of agent 2 of 4 (GitLab's parallel: N,
//       CI_NODE_INDEX/CI_NODE_TOTAL; counted from 1), empty when it has none
//
// Projects are dealt round-robin in name order, so every agent computes the
// same split from the same list. Plain Node, no dependencies.
'use strict';

function shards(projects, total) {
  const out = Array.from({ length: Math.min(total, projects.length) }, () => []);
  [...projects].sort().forEach((p, i) => out[i % out.length].push(p));
  return out.map((s) => s.join(','));
}

function main(argv, input) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!['--total', '--index'].includes(argv[i]) || !/^\d+$/.test(argv[i + 1] ?? '')) throw new Error(`usage: shards.js --total N [--index I] (got ${argv.join(' ') || 'nothing'})`);
    args[argv[i].slice(2)] = Number(argv[i + 1]);
  }
  if (!args.total) throw new Error('--total must be 1 or more');
  if (args.index !== undefined && (args.index < 1 || args.index > args.total)) throw new Error(`--index must be between 1 and ${args.total}; got ${args.index}`);
  let projects;
  try {
    projects = JSON.parse(input || '[]');
  } catch (error) {
    throw new Error(`stdin is not the JSON list of \`nx show projects --json\`: ${error.message}`);
  }
  if (!Array.isArray(projects) || projects.some((p) => typeof p !== 'string')) throw new Error('stdin must be a JSON list of project names (nx show projects --json)');
  const split = shards(projects, args.total);
  return args.index === undefined ? JSON.stringify(split) : split[args.index - 1] ?? '';
}

module.exports = { shards, main };

if (require.main === module) {
  let input = '';
  process.stdin.on('data', (d) => (input += d));
  process.stdin.on('end', () => {
    try {
      process.stdout.write(`${main(process.argv.slice(2), input)}\n`);
    } catch (error) {
      process.stderr.write(`shards.js: ${error.message}\n`);
      process.exit(2);
    }
  });
}

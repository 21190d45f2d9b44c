import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { DirectoryPublisher, readManifest } from '../../libs/core/src';
import { makeWheel, testdir } from '../testing';
import { buildEnvironment, quiet } from './helpers';

jest.setTimeout(900_000);

/**
 * Artists keep running a tool while new versions are published and rolled
 * back: every process started through `<env>/current` must run entirely on
 * the version it started with (interpreter, stdlib, packages imported late,
 * console scripts, subprocesses started with sys.executable), whatever
 * happens to `current` meanwhile.
 */
const PROBE = `
import os, subprocess, sys, time
import flip_a
time.sleep(0.02)
import flip_b, json, decimal
child = subprocess.run([sys.executable, "-c", "import flip_c; print(flip_c.__version__)"], capture_output=True, text=True)
versions = {flip_a.__version__, flip_b.__version__, child.stdout.strip()}
root = lambda m: os.path.realpath(m.__file__).split("/lib/python")[0]
# The environment's packages from one version (sys.prefix); the standard library from one runtime (sys.base_prefix:
# the version itself when self-contained, its shared runtime otherwise).
roots = {root(flip_a), root(flip_b), sys.prefix}
stdlib = {root(json), root(decimal), sys.base_prefix}
print("OK" if len(versions) == 1 and len(roots) == 1 and len(stdlib) == 1 and child.returncode == 0 else "MIXED %s %s %s %s" % (sorted(versions), sorted(roots), sorted(stdlib), child.stderr[-200:]))
`;

const READER = `
i=0
while [ $i -lt "$RUNS" ]; do
  i=$((i + 1))
  if [ $((i % 4)) -eq 0 ]; then
    out=$("$ENV/current/bin/flip-tool" 2>&1) && case "$out" in "flip-a "*) out=OK;; esac || out="FAIL $out"
  else
    out=$("$ENV/current/bin/python" "$PROBE" 2>&1) || out="FAIL $out"
  fi
  echo "$out" | tr '\\n' ' '; echo
done
`;

describe('a process runs on the version it started with while current moves', () => {
  const { dir, cleanup } = testdir({}, 'pydepot-pinning-');
  afterAll(cleanup);

  it('1,000 runs of a reader loop see 0 failures and 0 mixed versions during 20+ publishes and rollbacks', async () => {
    const ws = path.join(dir, 'ws');
    const wheels = path.join(ws, 'wheels');
    mkdirSync(wheels, { recursive: true });
    const builds: string[] = [];
    for (const version of ['1.0.0', '2.0.0']) {
      makeWheel(wheels, 'flip-a', version, { script: 'flip-tool' });
      makeWheel(wheels, 'flip-b', version);
      makeWheel(wheels, 'flip-c', version);
      const specFile = path.join(ws, `environments/flip-${version}/environment.json`);
      mkdirSync(path.dirname(specFile), { recursive: true });
      const packages = ['flip-a', 'flip-b', 'flip-c'].map((p) => `${p}==${version}`);
      writeFileSync(specFile, JSON.stringify({ python: '3.12', packages, index: { noIndex: true, findLinks: ['../../wheels'] } }));
      const { root } = await buildEnvironment(specFile, path.join(ws, `dist/pydepot/flip-${version}`));
      builds.push(root);
    }
    // Both builds publish as environment "flip".
    const depot = path.join(dir, 'depot');
    const publisher = new DirectoryPublisher(depot);
    const publishBuild = async (root: string) => {
      const manifest = await readManifest(root);
      return publisher.publish({ buildPath: root, manifest: { ...manifest, name: 'flip' }, ...quiet });
    };
    await publishBuild(builds[0]);

    const probe = path.join(dir, 'probe.py');
    writeFileSync(probe, PROBE);
    const runs = 500;
    const readers = [0, 1].map(
      () =>
        new Promise<string>((resolve, reject) => {
          const child = spawn('bash', ['-c', READER], { cwd: '/', env: { PATH: '/usr/bin:/bin', HOME: process.env.HOME, ENV: path.join(depot, 'flip'), PROBE: probe, RUNS: String(runs) } });
          let out = '';
          child.stdout.on('data', (d) => (out += d));
          child.stderr.on('data', (d) => (out += d));
          child.on('error', reject);
          child.on('close', () => resolve(out));
        }),
    );
    let done = false;
    void Promise.all(readers).then(() => (done = true));
    let flips = 0;
    for (let i = 0; !done || flips < 20; i++) {
      if (i % 3 === 2) await publisher.rollback({ name: 'flip', ...quiet });
      else await publishBuild(builds[(i + 1) % 2]);
      flips++;
      await new Promise((r) => setTimeout(r, 150));
    }
    const lines = (await Promise.all(readers)).join('').trim().split('\n');
    const bad = lines.filter((l) => l.trim() !== 'OK');
    expect({ runs: lines.length, bad: bad.slice(0, 5), badCount: bad.length }).toEqual({ runs: 2 * runs, bad: [], badCount: 0 });
    expect(flips).toBeGreaterThanOrEqual(20);
    const releases = JSON.parse(readFileSync(path.join(depot, 'flip', 'releases.json'), 'utf8')).releases;
    expect(releases.length).toBeGreaterThanOrEqual(20);
  });
});

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  cacheDir,
  EnvironmentManifest,
  extractArchive,
  FILES_INDEX,
  getPublisher,
  IndexedEntry,
  indexTree,
  installRequirements,
  loadEnvironmentSpec,
  METADATA_FILES,
  readReleases,
} from '../../libs/core/src';
import { makeWheel, testdir } from '../testing';
import { buildEnvironment, exec, quiet } from './helpers';

jest.setTimeout(900_000);

const REPO = path.resolve(__dirname, '../..');
const CHILD = path.join(__dirname, 'fixtures/publish.ts');
/** The cached TypeScript hook Nx's runtime inputs use: a child starts in ~0.2 s instead of ~0.8 s. */
const REGISTER = path.join(REPO, 'libs/nx-plugin/bin/register.js');

/** Run a publish in a child process (optionally killed at its N-th checkpoint). */
function publishInChild(buildPath: string, depot: string, env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, ['-r', REGISTER, CHILD, buildPath, depot], { cwd: REPO, env: { ...process.env, ...env }, encoding: 'utf8' });
}

/** A version folder is complete when every entry of its build's file index is there, as indexed. */
function isComplete(versionDir: string): boolean {
  if (!existsSync(path.join(versionDir, 'pydepot.json'))) return false;
  const version = JSON.parse(readFileSync(path.join(versionDir, 'pydepot.json'), 'utf8')).version as string;
  const entries = JSON.parse(readFileSync(path.join(builds.get(version)!, FILES_INDEX), 'utf8')).entries as IndexedEntry[];
  return entries.every((e) => {
    const st = lstatSync(path.join(versionDir, e.rel), { throwIfNoEntry: false });
    if (!st) return false;
    if (e.kind === 'file') return st.isFile() && st.size === e.size;
    if (e.kind === 'symlink') return st.isSymbolicLink() && readlinkSync(path.join(versionDir, e.rel)) === e.target;
    return st.isDirectory();
  });
}

/** What users see: both pointers name a complete version, one of `allowed`. */
function servedVersions(envDir: string, allowed: string[]): { link: string; json: string } {
  const link = readlinkSync(path.join(envDir, 'current'));
  const json = JSON.parse(readFileSync(path.join(envDir, 'current.json'), 'utf8')).version;
  for (const v of [link, json]) {
    expect(allowed).toContain(v);
    expect([v, isComplete(path.join(envDir, v))]).toEqual([v, true]);
  }
  return { link, json };
}

/** Build folder of each version, by version id. */
const builds = new Map<string, string>();

describe('publishing a real environment', () => {
  const { dir, cleanup } = testdir({}, 'pydepot-publish-');
  afterAll(cleanup);
  const wheels = path.join(dir, 'ws/wheels');
  mkdirSync(wheels, { recursive: true });
  makeWheel(wheels, 'hello-tool', '1.0.0', { script: 'hello-tool' });
  makeWheel(wheels, 'hello-tool', '1.1.0', { script: 'hello-tool' });
  const specFile = (version: string) => {
    const file = path.join(dir, `ws/environments/tool-${version}/environment.json`);
    mkdirSync(path.dirname(file), { recursive: true });
    // Self-contained: the same build goes to a depot folder, a git repository and archives (shared-runtimes.spec.ts covers the shared layout's depot).
    writeFileSync(file, JSON.stringify({ python: '3.12', layout: 'self-contained', packages: [`hello-tool==${version}`], index: { noIndex: true, findLinks: ['../../wheels'] } }));
    return file;
  };
  const build = path.join(dir, 'ws/dist/pydepot/tool');
  let v1: EnvironmentManifest;
  let v2: EnvironmentManifest;

  beforeAll(async () => {
    v1 = (await buildEnvironment(specFile('1.0.0'), build)).manifest;
    // The same environment with one package upgraded: only pip-install runs again.
    const spec = { ...loadEnvironmentSpec(specFile('1.1.0')), name: v1.name! };
    v2 = await installRequirements({ inputPath: path.join(build, 'venv'), outputPath: path.join(build, 'env2'), spec, cacheDir: cacheDir(), ...quiet });
    expect(v2.version).not.toBe(v1.version);
    builds.set(v1.version!, path.join(build, 'env'));
    builds.set(v2.version!, path.join(build, 'env2'));
  });

  it('survives SIGKILL at 20 points of a publish: the depot always serves a complete old or new version, and the next publish succeeds', () => {
    const trace = path.join(dir, 'trace.txt');
    const seed = path.join(dir, 'seed-depot');
    expect(publishInChild(path.join(build, 'env'), seed).status).toBe(0);
    // Count the checkpoints of an uninterrupted publish of v2 over v1.
    const probe = path.join(dir, 'probe-depot');
    execFileSync('cp', ['-a', seed, probe]);
    expect(publishInChild(path.join(build, 'env2'), probe, { PYDEPOT_FAULT_TRACE: trace }).status).toBe(0);
    const labels = readFileSync(trace, 'utf8').trim().split('\n');
    expect(labels.length).toBeGreaterThan(40);
    // 20 points spread over the whole publish, always including the pointer moves and the log.
    const special = labels.map((l, i) => (/ (locked|assembled|renamed|current link|current\.json|recorded)$/.test(l) ? i + 1 : 0)).filter(Boolean);
    const chosen = new Set(special);
    for (let step = 1; chosen.size < 20; step++) chosen.add(1 + Math.floor(((step * 7919) % labels.length)));
    const points = [...chosen].sort((a, b) => a - b);
    expect(points.length).toBe(20);
    const envName = v1.name!;
    for (const point of points) {
      const depot = path.join(dir, `depot-${point}`);
      execFileSync('cp', ['-a', seed, depot]);
      const killed = publishInChild(path.join(build, 'env2'), depot, { PYDEPOT_FAULT_KILL_AT: String(point) });
      expect([point, killed.signal]).toEqual([point, 'SIGKILL']);
      servedVersions(path.join(depot, envName), [v1.version!, v2.version!]);
      const next = publishInChild(path.join(build, 'env2'), depot);
      expect([point, next.status, next.stderr]).toEqual([point, 0, '']);
      expect(servedVersions(path.join(depot, envName), [v2.version!])).toEqual({ link: v2.version, json: v2.version });
      // The release log ends with v2, even when the killed publish moved current before logging it.
      const releases = JSON.parse(readFileSync(path.join(depot, envName, 'releases.json'), 'utf8')).releases;
      expect([point, releases.at(-1).version, releases.at(-1).previous]).toEqual([point, v2.version, v1.version]);
      // No temp folders, no stale lock left behind.
      expect([point, readdirSync(path.join(depot, envName)).filter((n) => n.startsWith('.'))]).toEqual([point, []]);
      rmSync(depot, { recursive: true, force: true });
    }
    expect(exec(path.join(seed, envName, 'current/bin/hello-tool'))).toBe('hello-tool 1.0.0\n');
  });

  it('two publishes started together: both finish, each reported version is really there, and the depot is consistent', async () => {
    const depot = path.join(dir, 'race-depot');
    const start = (buildPath: string) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, ['-r', REGISTER, CHILD, buildPath, depot], { cwd: REPO });
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (err += d));
        child.on('close', (code) => resolve({ code, out, err }));
      });
    const results = await Promise.all([start(path.join(build, 'env')), start(path.join(build, 'env2'))]);
    const envDir = path.join(depot, v1.name!);
    for (const r of results) {
      expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
      const reported = JSON.parse(r.out);
      expect(isComplete(reported.location)).toBe(true);
    }
    const served = servedVersions(envDir, [v1.version!, v2.version!]);
    expect(served.link).toBe(served.json);
    expect((await readReleases(envDir)).map((r) => r.version).sort()).toEqual([v1.version, v2.version].sort());
    expect(readdirSync(envDir).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('on a depot that fills up: a clear error, the previous version intact and current', () => {
    // v1 plus a 24 MiB file that does not fit on a tmpfs sized for v1 and a little more.
    const big = path.join(dir, 'big-build');
    execFileSync('cp', ['-a', path.join(build, 'env'), big]);
    writeFileSync(path.join(big, 'lib/filler.bin'), randomBytes(24 << 20));
    const bigManifest = { ...v1, version: 'f'.repeat(16) };
    writeFileSync(path.join(big, 'pydepot.json'), JSON.stringify(bigManifest));
    return indexTree(big, (rel) => !METADATA_FILES.has(rel)).then((entries) => {
      writeFileSync(path.join(big, FILES_INDEX), JSON.stringify({ schemaVersion: 1, entries }));
      const size = Number(execFileSync('du', ['-sb', path.join(build, 'env')]).toString().split('\t')[0]);
      const depot = path.join(dir, 'small-depot');
      mkdirSync(depot);
      const script = `
set -u
mount -t tmpfs -o size=${Math.ceil(size / (1 << 20)) + 12}m pydepot-test "$DEPOT"
"$NODE" -r "$REGISTER" "$CHILD" "$V1" "$DEPOT" > "$OUT/first.json" 2> "$OUT/first.err"; echo $? > "$OUT/first.code"
"$NODE" -r "$REGISTER" "$CHILD" "$BIG" "$DEPOT" > "$OUT/big.json" 2> "$OUT/big.err"; echo $? > "$OUT/big.code"
readlink "$DEPOT/${v1.name}/current" > "$OUT/current"
ls -A "$DEPOT/${v1.name}" > "$OUT/listing"
"$DEPOT/${v1.name}/current/bin/hello-tool" > "$OUT/run" 2>&1
`;
      const out = path.join(dir, 'small-out');
      mkdirSync(out);
      const result = spawnSync('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', script], {
        cwd: REPO,
        env: { ...process.env, DEPOT: depot, NODE: process.execPath, CHILD, REGISTER, V1: path.join(build, 'env'), BIG: big, OUT: out },
        encoding: 'utf8',
      });
      expect(result.status).toBe(0);
      const read = (n: string) => readFileSync(path.join(out, n), 'utf8').trim();
      expect(read('first.code')).toBe('0');
      expect(read('big.code')).toBe('1');
      expect(read('big.err')).toMatch(/publishing .* failed: ENOSPC.*the depot was left as it was/s);
      expect(read('big.err')).toMatch(/hint: the depot is full/);
      expect(read('current')).toBe(v1.version);
      expect(read('listing').split('\n').sort()).toEqual(['CHANGELOG.md', 'current', 'current.json', 'releases.json', v1.version].sort());
      expect(read('run')).toBe('hello-tool 1.0.0');
    });
  });

  it('git: versions become commits and tags of a bare repository; a clone runs the environment; rollback is a commit', async () => {
    const bare = path.join(dir, 'deploy.git');
    execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch=main', bare]);
    const publisher = getPublisher({ to: 'git', depot: bare });
    const first = await publisher.publish({ buildPath: path.join(build, 'env'), manifest: v1, ...quiet });
    expect(first).toMatchObject({ version: v1.version, copied: true, currentChanged: true });
    await publisher.publish({ buildPath: path.join(build, 'env2'), manifest: v2, ...quiet });
    expect((await publisher.publish({ buildPath: path.join(build, 'env2'), manifest: v2, ...quiet })).currentChanged).toBe(false);
    const git = (...args: string[]) => execFileSync('git', ['-C', bare, ...args]).toString().trim();
    expect(git('tag', '--list').split('\n').sort()).toEqual([`${v1.name}/${v1.version}`, `${v1.name}/${v2.version}`].sort());
    expect(git('log', '--format=%s', 'main').split('\n')).toEqual([`${v1.name} ${v2.version}`, `${v1.name} ${v1.version}`]);
    expect(git('log', '-1', '--format=%b', 'main')).toContain('hello-tool 1.0.0 -> 1.1.0');

    const clone = path.join(dir, 'artist clone');
    execFileSync('git', ['clone', '--quiet', bare, clone]);
    expect(exec(path.join(clone, v1.name!, 'bin/hello-tool'))).toBe('hello-tool 1.1.0\n');
    expect(exec(path.join(clone, v1.name!, 'bin/python'), ['-c', 'import hello_tool, sys; print(sys.prefix)']).trim()).toBe(path.join(clone, v1.name!));

    const back = await publisher.rollback({ name: v1.name!, ...quiet });
    expect(back).toMatchObject({ version: v1.version, currentChanged: true });
    execFileSync('git', ['-C', clone, 'pull', '--quiet']);
    expect(exec(path.join(clone, v1.name!, 'bin/hello-tool'))).toBe('hello-tool 1.0.0\n');
  });

  it('archives: tar.zst and zip with SHA256SUMS, each unpacking to a runnable environment', async () => {
    const depot = path.join(dir, 'artifacts');
    const publisher = getPublisher({ to: 'archive', depot, formats: ['tar.zst', 'zip'] });
    const result = await publisher.publish({ buildPath: path.join(build, 'env'), manifest: v1, ...quiet });
    expect(result.currentChanged).toBe(true);
    const envDir = path.join(depot, v1.name!);
    expect(execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: envDir }).toString()).toMatch(/tar\.zst: OK\n.*zip: OK/);
    for (const format of ['tar.zst', 'zip']) {
      const out = path.join(dir, `unpacked-${format}`);
      await extractArchive(path.join(envDir, `${v1.name}-${v1.version}.${format}`), out);
      expect(exec(path.join(out, v1.name!, 'bin/hello-tool'))).toBe('hello-tool 1.0.0\n');
    }
    // Reproducible: the same version archived twice is byte-identical.
    const again = path.join(dir, 'artifacts-again');
    await getPublisher({ to: 'archive', depot: again, formats: ['tar.zst', 'zip'] }).publish({ buildPath: path.join(build, 'env'), manifest: v1, ...quiet });
    expect(readFileSync(path.join(again, v1.name!, 'SHA256SUMS'), 'utf8')).toBe(readFileSync(path.join(envDir, 'SHA256SUMS'), 'utf8'));
  });
});

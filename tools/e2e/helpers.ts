import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, lstatSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  bootstrapPip,
  buildRuntime,
  cacheDir,
  createEnvironment,
  createVenvStage,
  ensureRuntime,
  formatPythonRequest,
  EnvironmentManifest,
  EnvironmentSpec,
  installRequirements,
  loadEnvironmentSpec,
  unpackDistribution,
} from '../../libs/core/src';
import { makeWheel, testdir, writeFiles } from '../testing';

export const quiet = { log: () => undefined };

/**
 * What the inferred targets run, through the core functions the executors
 * call: the spec's runtime (`<buildDir>/../_runtimes/`, as the runtime target
 * builds it), the venv stage in the layout the one decision gives
 * (`createVenvStage`, as the venv target), then install, audited against
 * where the interpreter came from (the runtime manifest's originPaths). The
 * environment's stages are `<buildDir>/venv` and `<buildDir>/env`, two levels
 * below the runtimes, as in the depot.
 */
export async function buildEnvironment(specFile: string, buildDir: string): Promise<{ spec: EnvironmentSpec; manifest: EnvironmentManifest; root: string; runtime: string }> {
  const spec = loadEnvironmentSpec(specFile);
  const manifestPath = path.join(path.dirname(buildDir), '_runtimes', `${spec.name}.json`);
  const request = { python: formatPythonRequest(spec.python), includeStdlibTests: spec.includeStdlibTests };
  const runtime = await buildRuntime({ request, workspaceRoot: path.dirname(specFile), manifestPath, cacheDir: cacheDir(), ...quiet })
    .then(() => ensureRuntime(manifestPath, { workspaceRoot: path.dirname(specFile), cacheDir: cacheDir(), ...quiet }));
  await createVenvStage({ spec, runtime, outputPath: path.join(buildDir, 'venv'), ...quiet });
  const manifest = await installRequirements({
    inputPath: path.join(buildDir, 'venv'),
    outputPath: path.join(buildDir, 'env'),
    spec,
    cacheDir: cacheDir(),
    forbiddenPaths: runtime.manifest.originPaths,
    ...quiet,
  });
  return { spec, manifest, root: path.join(buildDir, 'env'), runtime: runtime.root };
}

/** The stages of a project configured by hand (unpack → ensurepip → venv → install), through the core library. */
export async function buildHandConfigured(specFile: string, buildDir: string): Promise<{ spec: EnvironmentSpec; manifest: EnvironmentManifest; root: string }> {
  const spec = loadEnvironmentSpec(specFile);
  const stage = (name: string) => path.join(buildDir, name);
  await unpackDistribution({ spec, outputPath: stage('unpack'), cacheDir: cacheDir(), ...quiet });
  await bootstrapPip({ inputPath: stage('unpack'), outputPath: stage('ensurepip'), ...quiet });
  await createEnvironment({ inputPath: stage('ensurepip'), outputPath: stage('venv'), name: spec.name, ...quiet });
  const manifest = await installRequirements({ inputPath: stage('venv'), outputPath: stage('env'), spec, cacheDir: cacheDir(), ...quiet });
  return { spec, manifest, root: stage('env') };
}

/** Run a program with a clean environment (no PYTHON*, no pip settings) from a neutral folder. */
export function exec(file: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(file, args, { cwd: '/', env: { PATH: '/usr/bin:/bin', HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

/** Files under `root` whose text mentions `needle` (grep -rlI: binary files are skipped). */
export function grepText(root: string, needle: string): string[] {
  try {
    return execFileSync('grep', ['-rlIF', needle, root]).toString().trim().split('\n').filter(Boolean);
  } catch (error) {
    if ((error as { status?: number }).status === 1) return [];
    throw error;
  }
}

export const REPO = path.resolve(__dirname, '../..');

/** A copy of this workspace (its libs and example environments) in a temp folder, as a git repo. */
export function makeWorkspace(): { ws: string; cleanup(): void } {
  const { dir, cleanup } = testdir({}, 'pydepot-nx-');
  const ws = path.join(dir, 'ws');
  mkdirSync(ws);
  for (const item of ['package.json', 'nx.json', 'tsconfig.base.json', '.env', 'libs', 'environments', 'tools/ci']) {
    cpSync(path.join(REPO, item), path.join(ws, item), { recursive: true, filter: (src) => !src.includes('__snapshots__') });
  }
  symlinkSync(path.join(REPO, 'node_modules'), path.join(ws, 'node_modules'));
  writeFileSync(path.join(ws, '.gitignore'), 'node_modules\ndist\n.nx\n');
  git(ws, 'init', '-q', '-b', 'main');
  git(ws, 'add', '-A');
  git(ws, 'commit', '-qm', 'initial');
  return { ws, cleanup };
}

/**
 * A workspace copy without the example environments, readable by other
 * users, with a local wheels/ folder holding `hello-tool` at `versions`
 * (with its console script): the setting of most Nx-driven e2e suites.
 * Specs written with `spec()` install from that folder only.
 */
export function makeToolWorkspace(versions: string[] = ['1.0.0']): { ws: string; dir: string; cleanup(): void; spec(name: string, body: Record<string, unknown>): void } {
  const { ws, cleanup } = makeWorkspace();
  const dir = path.dirname(ws);
  chmodSync(dir, 0o755);
  for (const example of ['cli-tools', 'maxscript-imaging']) rmSync(path.join(ws, 'environments', example), { recursive: true });
  mkdirSync(path.join(ws, 'wheels'));
  for (const version of versions) makeWheel(path.join(ws, 'wheels'), 'hello-tool', version, { script: 'hello-tool' });
  const spec = (name: string, body: Record<string, unknown>) =>
    writeFiles(path.join(ws, 'environments', name), { 'environment.json': JSON.stringify({ index: { noIndex: true, findLinks: ['../../wheels'] }, ...body }) });
  return { ws, dir, cleanup, spec };
}

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=ci@pydepot.test', '-c', 'user.name=ci', ...args], { cwd }).toString();
}

export function nx(ws: string, ...args: string[]): { status: number; out: string } {
  return nxWith({}, ws, ...args);
}

/** `nx` with extra environment variables (a remote cache server, its token). */
export function nxWith(env: NodeJS.ProcessEnv, ws: string, ...args: string[]): { status: number; out: string } {
  const result = spawnSync(path.join(ws, 'node_modules/.bin/nx'), [...args, '--output-style=static'], {
    cwd: ws,
    env: nxEnv(env),
    encoding: 'utf8',
  });
  return { status: result.status ?? -1, out: `${result.stdout}\n${result.stderr}` };
}

/**
 * `nxWith` without blocking this process's event loop: for tests whose
 * servers (a package index, a mirror) run inside the test process.
 */
export function nxAsync(env: NodeJS.ProcessEnv, ws: string, ...args: string[]): Promise<{ status: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(ws, 'node_modules/.bin/nx'), [...args, '--output-style=static'], { cwd: ws, env: nxEnv(env) });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ status: code ?? -1, out }));
  });
}

function nxEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', NX_SKIP_NX_CACHE: undefined, FORCE_COLOR: '0', ...env };
}

/** Every path under `root` with its inode and mtime: a write anywhere changes it. */
export function snapshot(root: string): string[] {
  const out: string[] = [];
  const visit = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const st = lstatSync(p);
      out.push(`${path.relative(root, p)} ${st.ino} ${st.mtimeMs}`);
      if (st.isDirectory()) visit(p);
    }
  };
  visit(root);
  return out;
}

/** "> nx run cli-tools:install  [local cache]" → was that task replayed from the cache? */
export function taskLines(out: string): Record<string, string> {
  const lines: Record<string, string> = {};
  for (const m of out.matchAll(/^> nx run ([\w.-]+:[\w.-]+)(.*)$/gm)) lines[m[1]] = m[2].trim();
  return lines;
}


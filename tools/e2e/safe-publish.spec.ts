import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { makeWheel } from '../testing';
import { makeWorkspace, nxWith } from './helpers';

jest.setTimeout(900_000);

/**
 * Publishing into a depot that is in use, through Nx: the gate (a failing
 * smoke check leaves current where it was), verify never undoing a rollback,
 * an agent with umask 077, and bad input refused before anything is built.
 */
describe('safe publishing through Nx', () => {
  const { ws, cleanup } = makeWorkspace();
  afterAll(cleanup);
  const dir = path.dirname(ws);
  // The share exists (made by IT); the depot inside it is created by the first publish.
  const share = path.join(dir, 'share');
  mkdirSync(share, { mode: 0o755 });
  chmodSync(dir, 0o755);
  const depot = path.join(share, 'depot');
  const env = { PYDEPOT_DEPOT: depot };
  const wheels = path.join(ws, 'wheels');
  mkdirSync(wheels);
  for (const v of ['1.0.0', '2.0.0']) makeWheel(wheels, 'hello-tool', v, { script: 'hello-tool' });
  const specFile = path.join(ws, 'environments/tool/environment.json');
  const writeSpec = (version: string, extra: Record<string, unknown> = {}) => {
    mkdirSync(path.dirname(specFile), { recursive: true });
    writeFileSync(specFile, JSON.stringify({ python: '3.12', packages: [`hello-tool==${version}`], index: { noIndex: true, findLinks: ['../../wheels'] }, verify: { imports: ['hello_tool'], commands: [['hello-tool']] }, ...extra }));
  };
  /** nx under the agent's umask. */
  const nxUmask = (umask: string, ...args: string[]) => {
    const result = spawnSync('bash', ['-c', `umask ${umask}; exec "$0" "$@" --output-style=static`, path.join(ws, 'node_modules/.bin/nx'), ...args], {
      cwd: ws,
      env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', FORCE_COLOR: '0', ...env },
      encoding: 'utf8',
    });
    return { status: result.status ?? -1, out: `${result.stdout}\n${result.stderr}` };
  };
  const nx = (...args: string[]) => nxWith(env, ws, ...args);
  const current = () => readlinkSync(path.join(depot, 'tool/current'));

  it('publishes under umask 077 and every published file is readable by another user, who runs it', () => {
    writeSpec('1.0.0');
    const run = nxUmask('077', 'run', 'tool:publish');
    expect({ status: run.status, out: run.status ? run.out : '' }).toEqual({ status: 0, out: '' });
    expect(run.out).toMatch(/2 checks passed, audit clean/);
    const unreadable = execFileSync('find', [depot, '!', '-type', 'l', '(', '!', '-perm', '-o=r', '-o', '-type', 'd', '!', '-perm', '-o=x', ')']).toString().trim();
    expect(unreadable).toBe('');
    const asNobody = (file: string) =>
      execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'env', '-i', 'PATH=/usr/bin:/bin', file], { cwd: '/' }).toString();
    expect(asNobody(path.join(depot, 'tool/current/bin/hello-tool'))).toBe('hello-tool 1.0.0\n');
  });

  it('keeps current where it was when the new version fails a smoke check, naming the check', () => {
    const before = current();
    writeSpec('2.0.0', { verify: { commands: [['python', '-c', 'raise SystemExit("the exporter plugin is missing")']] } });
    const run = nx('run', 'tool:publish');
    expect(run.status).not.toBe(0);
    expect(run.out).toMatch(/tool [0-9a-f]{16} failed its checks; current still points at [0-9a-f]{16}/);
    expect(run.out).toContain('python -c raise SystemExit("the exporter plugin is missing") failed');
    expect(current()).toBe(before);
    // The failed version is not left where a rollback could pick it.
    expect(readdirSync(path.join(depot, 'tool')).filter((n) => /^[0-9a-f]{16}$/.test(n))).toEqual([before]);
  });

  it('rolls back, and `nx run-many -t verify` checks what is current without publishing again', () => {
    writeSpec('2.0.0');
    expect(nx('run', 'tool:publish').status).toBe(0);
    const v2 = current();
    const back = nx('run', 'tool:rollback');
    expect(back.status).toBe(0);
    const v1 = current();
    expect(v1).not.toBe(v2);
    const verify = nx('run-many', '-t', 'verify', '--projects', 'tool');
    expect({ status: verify.status, out: verify.status ? verify.out : '' }).toEqual({ status: 0, out: '' });
    expect(verify.out).toContain(`tool ${v1}: 2 checks passed, audit clean`);
    expect(verify.out).not.toMatch(/nx run tool:(publish|pip-install)/);
    expect(current()).toBe(v1);
  });

  it('never publishes an environment the relocation audit rejects (a wheel that installs an absolute .pth line)', () => {
    const before = current();
    // A wheel whose RECORD installs evil.pth into site-packages (makeWheel writes plain modules only).
    execFileSync('python3', ['-c', `
import base64, hashlib, sys, zipfile
files = {"evil_pth/__init__.py": "", "evil.pth": "/opt/studio/pipeline/python\\n",
         "evil_pth-1.0.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: evil-pth\\nVersion: 1.0.0\\n",
         "evil_pth-1.0.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
rec = [f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(t.encode()).digest()).rstrip(b'=').decode()},{len(t)}" for p, t in files.items()]
files["evil_pth-1.0.0.dist-info/RECORD"] = "\\n".join(rec + ["evil_pth-1.0.0.dist-info/RECORD,,"]) + "\\n"
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for p, t in files.items(): z.writestr(p, t)
`, path.join(wheels, 'evil_pth-1.0.0-py3-none-any.whl')]);
    writeSpec('2.0.0', { packages: ['hello-tool==2.0.0', 'evil-pth==1.0.0'] });
    const run = nx('run', 'tool:publish');
    expect(run.status).not.toBe(0);
    expect(run.out).toContain('lib/python3.12/site-packages/evil.pth: .pth line names the absolute path /opt/studio/pipeline/python');
    expect(run.out).toMatch(/nothing was published/);
    expect(run.out).not.toContain('nx run tool:publish\n\npydepot publish');
    expect(current()).toBe(before);
  });

  it('reports bad input within seconds, before unpacking anything: a redirected package source, a typo, a base cycle', () => {
    writeFileSync(path.join(path.dirname(specFile), 'requirements.txt'), 'hello-tool==1.0.0\n--extra-index-url https://mirror.example/simple\n');
    writeSpec('1.0.0', { packages: [], requirements: ['requirements.txt'] });
    const started = Date.now();
    const redirected = nx('run', 'tool:publish', '--skip-nx-cache');
    expect(redirected.status).not.toBe(0);
    expect(redirected.out).toContain(`${path.join(path.dirname(specFile), 'requirements.txt')}:2: "--extra-index-url https://mirror.example/simple" changes where packages come from`);
    expect(redirected.out).not.toMatch(/copying installed CPython|installing pip/);
    expect(Date.now() - started).toBeLessThan(30_000);

    writeSpec('1.0.0', { packages: ['hello-tool=1.0.0'] });
    const typo = nx('run', 'tool:publish', '--skip-nx-cache');
    expect(typo.out).toContain('field "packages[0]" ("hello-tool=1.0.0") is not a valid requirement specifier');
    expect(typo.out).toContain('pin with "=="');

    for (const [name, base] of [['loop-a', 'loop-b'], ['loop-b', 'loop-a']]) {
      mkdirSync(path.join(ws, 'environments', name), { recursive: true });
      writeFileSync(path.join(ws, 'environments', name, 'environment.json'), JSON.stringify({ base }));
    }
    // The graph still loads (every other environment stays usable); the cycle is reported on its own environments.
    const projects = nx('show', 'projects');
    expect(projects.status).toBe(0);
    expect(projects.out).toContain('tool');
    const cycle = nx('run', 'loop-a:publish');
    expect(cycle.status).not.toBe(0);
    expect(cycle.out).toMatch(/environments\/loop-[ab]\/environment\.json: field "base" makes a cycle: loop-a → loop-b → loop-a/);
    expect(existsSync(path.join(ws, 'dist/pydepot/_runtimes/python-3.12.json'))).toBe(true); // from the first test, untouched
    expect(readFileSync(specFile, 'utf8')).toContain('hello-tool=1.0.0');
  });
});
